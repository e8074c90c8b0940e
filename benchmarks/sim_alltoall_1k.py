"""All-to-all on 1,024 GPUs (128 x 8 H100, 8 x 400G ConnectX-7), PXN, 256 MiB per rank, with ECMP (one QP
per connection), adaptive routing and spraying. Target: under 60 s on 2 cores.

Two fabrics: the default rail-optimized CX864E-N design (two tiers, 800G uplinks: collisions rarely
bind, few rate epochs), and a three-tier CX732Q-N design (400G everywhere, 16 parallel spine-core
links: ECMP collisions bind everywhere, hundreds of rate epochs), the harder case for the engine."""

from __future__ import annotations

import sys
import time

from sim_common import fabric, measured, rss_mib

from tokenfab import sim


def main() -> int:
    worst = 0.0
    for label, spec in (("CX864E-N, 2 tiers", {}), ("CX732Q-N, 3 tiers", {"switch_model": "CX732Q-N", "tiers": 3})):
        t0 = time.perf_counter()
        f = fabric(128, **spec)
        print(f"{label}: plan {time.perf_counter() - t0:.2f} s (not counted), {len(f.links):,} links")
        for mode in ("ecmp", "adaptive", "spray"):

            def simulate(f=f, mode=mode):
                s = sim.Simulator(f)
                return s.collective_time("all_to_all", s.gpus(), 2**28, routing=sim.Routing(mode, seed=0))

            r, dt, peak = measured(simulate)
            worst = max(worst, dt)
            print(
                f"  all-to-all {r.n_ranks:,} GPUs, {mode:<8}: {dt:6.2f} s (target < 60 s), peak {peak:6,.0f} MiB; "
                f"{r.connections:,} connections, {len(r.run.event_s) - 1} rate epochs, {r.run.solves} solves; "
                f"busbw {r.busbw_GBps:.1f} GB/s"
            )
    print(f"process max RSS {rss_mib():,.0f} MiB")
    return 0 if worst < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
