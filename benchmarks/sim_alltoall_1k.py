"""All-to-all on 1,024 GPUs (128 x 8 H100, 8 x 400G, rail-optimized CX864E-N), PXN, ECMP with one QP
per connection and with adaptive routing, 256 MiB per rank. Target: under 60 s on 2 cores."""

from __future__ import annotations

import sys
import time

from sim_common import fabric, measured, rss_mib
from tokenfab import sim


def main() -> int:
    t0 = time.perf_counter()
    f = fabric(128)
    t_plan = time.perf_counter() - t0
    worst = 0.0
    for mode in ("ecmp", "adaptive"):
        def simulate():
            s = sim.Simulator(f)
            return s.collective_time("all_to_all", s.gpus(), 2**28, routing=sim.Routing(mode, seed=0))

        r, dt, peak = measured(simulate)
        worst = max(worst, dt)
        print(f"all-to-all, {r.n_ranks:,} GPUs, {mode}: simulate {dt:.2f} s (target < 60 s), peak {peak:,.0f} MiB; "
              f"{len(r.group_finish_s):,} flows, {len(r.run.event_s) - 1} rate epochs; busbw {r.busbw_GBps:.1f} GB/s")
    print(f"  plan {t_plan:.2f} s (not counted); process max RSS {rss_mib():,.0f} MiB")
    return 0 if worst < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
