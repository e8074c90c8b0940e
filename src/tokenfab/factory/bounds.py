"""Bounds on the work a factory description asks for, checked before the simulation starts.

Each field is valid on its own; together they can ask for billions of request bins or ticks
(a 1 ms request bin over a year), which would take gigabytes or never end. The limits are far
above any real description and each error says the limit and the fields that reach it.
"""

from __future__ import annotations

import math

from tokenfab.errors import InputError

MAX_REQUEST_BINS = 5_000_000  # request-arrival bins per service over the window (8 bytes each)
MAX_TICKS = 1_000_000  # layer ticks over the window (each re-plans data, services, autoscaling)
MAX_JOBS = 10_000  # jobs after `count` copies are expanded (a few ms of scheduling each)
MAX_FAILURES = 10_000  # interruptions expected over the window (Llama 3's rate: ~8 a day on 16k GPUs)


def check_work(spec) -> None:
    """InputError when the description asks for more work than the limits above."""
    window_s = spec.window_h * 3600.0
    bins = window_s / spec.request_bin_s
    if spec.services and bins > MAX_REQUEST_BINS:
        raise InputError(
            f"a {spec.window_h:g} h window in {spec.request_bin_s:g} s bins is {bins:,.0f} bins per service; "
            f"at most {MAX_REQUEST_BINS:,} (raise request_bin_s to >= {window_s / MAX_REQUEST_BINS:.3g} s)",
            "request_bin_s",
        )
    ticks = window_s / (spec.tick_min * 60.0)
    if ticks > MAX_TICKS:
        raise InputError(
            f"a {spec.window_h:g} h window in {spec.tick_min:g} min ticks is {ticks:,.0f} ticks; "
            f"at most {MAX_TICKS:,} (raise tick_min to >= {window_s / 60.0 / MAX_TICKS:.3g} min)",
            "tick_min",
        )


def check_job_counts(data: object) -> None:
    """Before validation (the model expands `count` into job names): the copies stay bounded."""
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list):
        return
    total = 0
    for i, job in enumerate(jobs):
        count = _whole(job.get("count", 1)) if isinstance(job, dict) else 1
        if count is not None:
            total += max(count, 0)
            if total > MAX_JOBS:
                raise InputError(
                    f"{count:,} copies bring the description to more than {MAX_JOBS:,} jobs (at most {MAX_JOBS:,})",
                    f"jobs.{i}.count",
                )


def check_failures(spec, n_gpus: int) -> None:
    """The interruptions the failure rate asks for over the window on `n_gpus` GPUs stay bounded."""
    f = spec.failures
    if f is None or not f.enabled:
        return
    expected = f.per_gpu_s * n_gpus * spec.window_h * 3600.0
    if not expected <= MAX_FAILURES:  # also refuses an overflow to inf
        raise InputError(
            f"{f.interruptions:g} interruptions per {f.days:g} days on {f.gpus:,} GPUs x scale {f.scale:g} "
            f"is {expected:,.3g} interruptions over the {spec.window_h:g} h window on {n_gpus:,} GPUs; "
            f"at most {MAX_FAILURES:,}",
            "failures",
        )


def _whole(value: object) -> int | None:
    """`value` as the whole number validation will read it as (it also takes 5.0 and "5"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value) if isinstance(value, (float, str)) else math.nan
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None
