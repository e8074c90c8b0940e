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
