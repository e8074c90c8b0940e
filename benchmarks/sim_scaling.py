"""How simulation time grows with the cluster: ring all-reduce (ECMP, 1 GiB) from 256 to 32,768 GPUs,
and all-to-all (ECMP, 64 MiB per rank) from 256 to 2,048 GPUs (all-to-all flows grow as n^2).
Fabrics: 8 x H100 servers, 8 x 400G, rail-optimized CX864E-N (two tiers, three from 8,192 GPUs)."""

from __future__ import annotations

import sys

from sim_common import fabric, measured, rss_mib

from tokenfab import sim


def row(kind: str, servers: int, collective: str, size: int) -> None:
    f = fabric(servers)

    def simulate():
        s = sim.Simulator(f)
        return s.collective_time(collective, s.gpus(), size, algorithm="ring", routing=sim.Routing("ecmp"))

    r, dt, peak = measured(simulate)
    print(
        f"  {kind:<10} {servers * 8:>7,}  {f.design['tiers']:>5}  {r.connections:>11,}  {len(r.group_finish_s):>9,}"
        f"  {dt:7.2f}  {peak:8,.0f}  {r.busbw_GBps:7.1f}"
    )


def main() -> int:
    print(
        f"  {'collective':<10} {'GPUs':>7}  {'tiers':>5}  {'connections':>11}  {'flows':>9}  {'wall s':>7}  "
        f"{'peak MiB':>8}  {'busbw':>7}"
    )
    print("  (flows = coupled flows the max-min solver sees: one per ring channel, one per all-to-all connection)")
    for servers in (32, 128, 512, 1024, 2048, 4096):
        row("ring", servers, "all_reduce", 2**30)
    for servers in (32, 64, 128, 256):
        row("all-to-all", servers, "all_to_all", 2**26)
    print(f"process max RSS {rss_mib():,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
