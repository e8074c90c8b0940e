"""nccl-tests' vocabulary: collective names, element types, message sizes and bus-bandwidth factors.

Sizes follow nccl-tests (`-b/-e/-f/-i`, K/M/G = 2^10/2^20/2^30, `float` elements by default) and its
meaning of "size" per collective; busbw = algbw * factor (doc/PERFORMANCE.md of nccl-tests). What each
collective moves over the fabric is collectives.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenfab.errors import InputError

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "reduce", "send_recv")
ALIASES = {
    "allreduce": "all_reduce",
    "allgather": "all_gather",
    "reducescatter": "reduce_scatter",
    "alltoall": "all_to_all",
    "sendrecv": "send_recv",
    "all-reduce": "all_reduce",
    "all-gather": "all_gather",
    "reduce-scatter": "reduce_scatter",
    "all-to-all": "all_to_all",
    "send-recv": "send_recv",
}
ALGORITHMS = ("auto", "ring", "tree", "nvls")
DTYPES = {
    "int8": 1,
    "uint8": 1,
    "half": 2,
    "bfloat16": 2,
    "float": 4,
    "int32": 4,
    "uint32": 4,
    "double": 8,
    "int64": 8,
    "uint64": 8,
}
REDUCING = {"all_reduce", "reduce_scatter", "reduce"}
ALIGN = 4  # nccl-tests aligns per-rank counts of all_gather / reduce_scatter to 4 elements


def collective_name(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in COLLECTIVES:
        raise InputError(f"unknown collective {name!r}; use one of {', '.join(COLLECTIVES)}", "collective")
    return key


def busbw_factor(collective: str, n: int) -> float:
    if collective == "all_reduce":
        return 2 * (n - 1) / n
    if collective in ("all_gather", "reduce_scatter", "all_to_all"):
        return (n - 1) / n
    return 1.0


@dataclass(frozen=True)
class Sizes:
    """One nccl-tests line: the size it prints, the count it prints, and S for algbw."""

    size_bytes: int  # as printed: max(send, receive) buffer
    count: int  # elements as printed (per rank for all_gather / reduce_scatter / all_to_all)
    bus_bytes: int  # S in algbw = S / t


def nccl_sizes(collective: str, size_bytes: int, n: int, type_bytes: int = 4) -> Sizes:
    count = int(size_bytes) // type_bytes
    if collective in ("all_gather", "reduce_scatter"):
        base = (count // (ALIGN * n)) * ALIGN
        return Sizes(base * n * type_bytes, base, base * n * type_bytes)
    if collective == "all_to_all":
        per = count // n
        return Sizes(per * n * type_bytes, per, per * n * type_bytes)
    return Sizes(count * type_bytes, count, count * type_bytes)


def parse_size(text: str, what: str = "size") -> int:
    """nccl-tests size syntax: a number with an optional K, M or G (powers of 1024)."""
    t = str(text).strip()
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    mult = 1
    if t and t[-1].lower() in units:
        mult, t = units[t[-1].lower()], t[:-1]
    try:
        v = float(t)
    except ValueError:
        raise InputError(f"{text!r} is not a size: use bytes with an optional K, M or G (e.g. 1M, 16G)", what) from None
    from tokenfab.numbers import MAX_SIZE_BYTES

    if not math.isfinite(v) or not 0 <= v * mult <= MAX_SIZE_BYTES:
        raise InputError(f"{text!r} is out of range (accepted: 0 to {MAX_SIZE_BYTES // 2**40}T bytes, e.g. 1M, 16G)", what)
    return int(v * mult)


def size_series(min_bytes: int, max_bytes: int, factor: int = 2, step_bytes: int | None = None) -> list[int]:
    """nccl-tests' sweep: min, min*f, ... <= max (or min + i*step when the factor is 1)."""
    if max_bytes < min_bytes:
        raise InputError(f"max size {max_bytes} is below min size {min_bytes}", "-e")
    if factor < 1:
        raise InputError(f"step factor must be >= 1, got {factor}", "-f")
    from tokenfab.numbers import MAX_SIZE_LINES

    out: list[int] = []
    s = min_bytes
    while s <= max_bytes:
        if len(out) == MAX_SIZE_LINES:
            raise InputError(
                f"more than {MAX_SIZE_LINES:,} sizes from {min_bytes} to {max_bytes} bytes; "
                "raise the step (-f or -i) or narrow -b/-e",
                "-i" if factor == 1 else "-f",
            )
        out.append(s)
        if factor > 1:
            if s == 0:
                break
            s *= factor
        else:
            if not step_bytes:
                break
            s += step_bytes
    return out
