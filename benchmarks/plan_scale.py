"""Plan a 131,072-GPU fabric (16,384 x 8-GPU servers, 400G NICs, 64 x 800G switches) and write
fabric.json; print wall time and peak memory. Targets: < 10 s and < 2 GiB on 2 cores.
Also times plans of a few thousand GPUs (target < 1 s)."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tokenfab import parse_intent, plan


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(servers: int, write: Path | None = None, **fabric) -> tuple[float, object]:
    t0 = time.perf_counter()
    f = plan(
        parse_intent(
            {
                "name": f"bench-{servers}",
                "cluster": {"servers": servers, "gpus_per_server": 8, "nic_model": "ConnectX-7"},
                "fabric": {"switch_model": "CX864E-N", **fabric},
            }
        )
    )
    if write:
        write.write_text(f.dumps())
    return time.perf_counter() - t0, f


def main() -> int:
    for servers in (32, 256, 512):
        dt, f = timed(servers)
        print(f"{servers * 8:>7,} GPUs: plan {dt:6.3f} s  ({f.design['tiers']} tiers, {len(f.links):,} links)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fabric.json"
        dt, f = timed(16384, write=path)
        d = f.design
        print(
            f"131,072 GPUs: plan + write fabric.json {dt:6.2f} s, peak memory {peak_mib():,.0f} MiB, "
            f"fabric.json {path.stat().st_size / 2**20:,.1f} MiB"
        )
        print(f"  {d['leaves']:,} leaves, {d['spines']:,} spines, {d['cores']:,} cores, {d['pods']} pods, {len(f.links):,} links")
    return 0


if __name__ == "__main__":
    sys.exit(main())
