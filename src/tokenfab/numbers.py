"""Numbers that come from people (command-line options, API arguments): finite and in range.

Files are checked by their pydantic models (tokenfab.strict); options and function arguments
that are plain numbers are checked here, where they enter, so a NaN never reaches a solver.
The limits on work (sizes, seeds, channels, ...) are data here too, so the error can say them.
"""

from __future__ import annotations

import math

from tokenfab.errors import InputError

# Work bounds: each is far above any real use and low enough that memory and time stay sane.
MAX_SEEDS = 1_000  # simulate --seeds
MAX_QPS = 256  # queue pairs per connection (NCCL caps NCCL_IB_QPS_PER_CONNECTION at 128)
MAX_CHANNELS = 64  # NCCL channels per NIC (NCCL_MAX_NCHANNELS is 32 / 64)
MAX_SIZE_BYTES = 2**50  # one collective buffer: 1 PiB
MAX_SIZE_LINES = 1_000  # lines of one nccl-tests style size series
MAX_LATENCY_S = 1.0  # added per-link latency / jitter
MAX_WAIT_S = 86_400.0  # twin --timeout: a day
MAX_GRID_POINTS = 10_000  # points of one sweep grid (each is a whole plan; every intent is held in memory)


def check(
    value: float | int,
    what: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    desc: str = "a number",
) -> float | int:
    """`value` if it is a finite number (not a boolean) within [lo, hi]; InputError naming `what`."""
    accepted = _range_text(lo, hi, lo_open, hi_open, unit)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected {desc}{accepted}, got {value!r}", what)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"expected {desc}, finite{accepted}, got {value}", what)
    low_bad = lo is not None and (value <= lo if lo_open else value < lo)
    high_bad = hi is not None and (value >= hi if hi_open else value > hi)
    if low_bad or high_bad:
        raise InputError(
            f"expected {desc}{accepted}, got {value:g}"
            if isinstance(value, float)
            else f"expected {desc}{accepted}, got {value}",
            what,
        )
    return value


def _range_text(lo, hi, lo_open, hi_open, unit) -> str:
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f" (accepted: {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}{u})"
    if lo is not None:
        return f" (accepted: {'>' if lo_open else '>='} {lo:g}{u})"
    if hi is not None:
        return f" (accepted: {'<' if hi_open else '<='} {hi:g}{u})"
    return ""
