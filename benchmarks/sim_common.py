"""Shared helpers of the simulator benchmarks: build a fabric, time a call, measure memory."""

from __future__ import annotations

import resource
import time
import tracemalloc

from tokenfab import parse_intent, plan


def fabric(servers: int, **fabric_spec):
    """servers x 8-GPU HGX H100 with 8 x 400G ConnectX-7, CX864E-N switches (tiers as planned)."""
    return plan(
        parse_intent(
            {
                "name": f"bench-{servers * 8}",
                "cluster": {"servers": servers, "gpus_per_server": 8, "nic_model": "ConnectX-7"},
                "fabric": {"architecture": "rail-optimized", "switch_model": "CX864E-N", **fabric_spec},
            }
        )
    )


def measured(fn, *args, **kw):
    """(result, wall seconds, peak MiB of Python/numpy allocations during the call). The call runs
    twice: timed without tracing, then under tracemalloc (which slows numpy allocation) for memory."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    dt = time.perf_counter() - t0
    tracemalloc.start()
    fn(*args, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak / 2**20


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
