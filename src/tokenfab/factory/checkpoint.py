"""Checkpointing: a job alternates `tau` seconds of work with a checkpoint write of `C` seconds
(synchronous, as in Young's and Daly's model). A failure loses the work since the last completed
checkpoint; the restart reads the checkpoint back.

    checkpoint bytes   = parameters x bytes_per_param (14: BF16 weights, FP32 master weights,
                         Adam's two FP32 moments; gradients are not saved)
    C                  = checkpoint bytes / write bandwidth (the tier's and the storage fabric's
                         share, and the job's own storage NICs)
    Young (1974)       tau* = sqrt(2 C M)  with M the job's mean time between failures
                         (M = 1 / (failure rate per GPU x GPUs of the job))
    waste per unit of time ~ C / tau + tau / (2 M): writing too often wastes C / tau, too seldom
    loses tau / 2 per failure on average.

The position in the cycle is `phase` in [0, tau + C): [0, tau) working, [tau, tau + C) writing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenfab.errors import InputError

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine
    from tokenfab.factory.jobs import JobRun


@dataclass
class CheckpointState:
    """A training job's checkpoints: how often, how big, where, and where it is in the cycle."""

    setting: float | str | None = None  # minutes, "auto", or None (no checkpoints)
    tier: str | None = None  # storage tier written to
    interval_s: float | None = None  # tau, fixed when the job first starts
    bytes: float = 0.0
    write_s: float = 0.0  # C, at the job's current share of the storage fabric
    phase_s: float = 0.0  # position in the work/write cycle
    count: int = 0  # checkpoints completed
    tokens_at: float = 0.0  # progress saved by the last one (what a restart resumes from)
    steps_at: float = 0.0
    reserved_bytes: float = 0.0  # space held on the tier for its last `keep` checkpoints
    written_bytes: float = 0.0


def young_daly_s(write_s: float, mtbf_s: float) -> float:
    """Young's optimum work interval between checkpoints (seconds)."""
    return math.sqrt(2.0 * write_s * mtbf_s)


def advance_cycle(phase: float, tau: float, c: float, dt: float) -> tuple[float, float, float, int, float]:
    """Advance the work/write cycle by dt seconds.

    Returns (work seconds, write seconds, new phase, checkpoints completed, work seconds done
    before the last completed checkpoint ended, or -1 when none completed)."""
    work = write = 0.0
    done = 0
    mark = -1.0
    period = tau + c
    t = dt
    # finish the current cycle
    if phase < tau:
        d = min(t, tau - phase)
        work += d
        phase += d
        t -= d
    if t > 0 and phase >= tau:
        d = min(t, period - phase)
        write += d
        phase += d
        t -= d
        if phase >= period - 1e-12:
            phase = 0.0
            done += 1
            mark = work
    if t <= 0:
        return work, write, phase, done, mark
    # whole cycles
    k = int(t // period) if period > 0 else 0
    if k:
        work += k * tau
        write += k * c
        done += k
        mark = work
        t -= k * period
    # the start of the next one
    d = min(t, tau)
    work += d
    phase = d
    t -= d
    if t > 0:
        write += t
        phase += t
        if phase >= period - 1e-12:  # rounding
            phase = 0.0
            done += 1
            mark = work
    return work, write, phase, done, mark


def time_for_work(phase: float, tau: float, c: float, w: float) -> float:
    """Wall seconds until `w` more seconds of work are done, from `phase` of the cycle."""
    if w <= 0:
        return 0.0
    t = 0.0
    if phase >= tau:  # writing: wait for it to end
        t += tau + c - phase
        phase = 0.0
    left = tau - phase
    if w <= left:
        return t + w
    t += left + c
    w -= left
    k = math.floor(w / tau) if tau > 0 else 0
    rem = w - k * tau
    if rem <= 1e-12 and k > 0:  # ends exactly at the end of a work period
        return t + k * tau + (k - 1) * c
    return t + k * (tau + c) + rem


# -- a job's checkpoints on the factory's storage ----------------------------------------------------
def configure(e: Engine, j: JobRun, params: float) -> None:
    """Whether a training job checkpoints, how big a checkpoint is and which tier it goes to."""
    spec, ck = e.spec, j.ckpt
    if j.kind != "training":
        return
    setting = ck.setting
    if setting is None and spec.checkpoint is not None:
        setting = spec.checkpoint.interval_min
    ck.setting = None if setting in (None, "off") else setting
    if ck.setting is not None and e.storage is None:
        raise InputError("checkpoints are written to a storage tier; add a storage section", j.req.field)
    if ck.setting is not None:
        bpp = spec.checkpoint.bytes_per_param if spec.checkpoint else 14.0
        ck.bytes = params * bpp
        ck.tier = e.tenancy.checkpoint_tier.get(j.tenant, spec.storage.checkpoint_tier)


def first_start(e: Engine, j: JobRun, servers: int) -> None:
    """Reserve room for the last `keep` checkpoints (or run without), fix the write time and interval."""
    ck = j.ckpt
    keep = e.spec.checkpoint.keep if e.spec.checkpoint else 2
    tier = e.storage.tiers[ck.tier]
    if tier.free_bytes < keep * ck.bytes:
        e.log(
            "storage",
            f"{j.name}: tier {ck.tier} has no room for {keep} checkpoints of "
            f"{ck.bytes / 1e9:,.0f} GB: it runs without checkpoints",
        )
        ck.setting = None
        return
    ck.reserved_bytes = keep * ck.bytes
    tier.occupy(ck.reserved_bytes)
    ck.write_s = write_s(e, j, servers)
    if ck.setting == "auto":
        mtbf = 1.0 / max(e.failure_spec.per_gpu_s * j.gpus, 1e-30)
        ck.interval_s = young_daly_s(ck.write_s, mtbf)
    else:
        ck.interval_s = float(ck.setting) * 60.0


def write_s(e: Engine, j: JobRun, servers: int) -> float:
    """C: one checkpoint at the job's share of the storage fabric and its own storage NICs."""
    own = e.storage.alloc.get(("ckpt", j.name), 0.0)
    bw = e.storage.burst_bytes_per_s(j.ckpt.tier, True, e.storage.client_bytes_per_s(servers), own)
    return j.ckpt.bytes / bw


def restore_s(e: Engine, j: JobRun, servers: int) -> float:
    """Reading the last checkpoint back after a failure (0 when none was written)."""
    ck = j.ckpt
    if not ck.count or e.storage is None:
        return 0.0
    bw = e.storage.burst_bytes_per_s(ck.tier, False, e.storage.client_bytes_per_s(servers))
    e.storage.tiers[ck.tier].read_bytes("restore", ck.bytes)
    return ck.bytes / bw
