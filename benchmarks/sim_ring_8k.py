"""Ring all-reduce on 8,192 GPUs (1,024 x 8 H100, 8 x 400G, three-tier rail-optimized CX864E-N),
ECMP with one QP per connection, one size (1 GiB). Target: under 5 s on 2 cores. Prints wall time and
peak memory (tracemalloc peak of the simulation; process max RSS)."""

from __future__ import annotations

import sys
import time

from sim_common import fabric, measured, rss_mib

from tokenfab import sim


def main() -> int:
    t0 = time.perf_counter()
    f = fabric(1024)
    t_plan = time.perf_counter() - t0

    def simulate():
        s = sim.Simulator(f)
        return s.collective_time("all_reduce", s.gpus(), 2**30, algorithm="ring", routing=sim.Routing("ecmp", seed=0))

    r, dt, peak = measured(simulate)
    d = f.design
    print(f"ring all-reduce, {r.n_ranks:,} GPUs on {d['tiers']} tiers ({len(f.links):,} links), ECMP 1 QP, 1 GiB")
    print(
        f"  plan {t_plan:.2f} s (not counted); simulate {dt:.2f} s (target < 5 s), peak {peak:,.0f} MiB, "
        f"process max RSS {rss_mib():,.0f} MiB"
    )
    print(f"  time {r.time_s * 1e3:.2f} ms (latency {r.latency_s * 1e3:.2f} ms), busbw {r.busbw_GBps:.1f} GB/s")
    return 0 if dt < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
