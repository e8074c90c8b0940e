"""Boot twins of increasing size with real FRR and print time to full convergence and memory.

Fabrics (spines x leaves, one link per leaf-spine pair, 8-rail rail-optimized, planned by tokenfab
and configured by `tokenfab configure`): 4 x 16 (64 sessions) and 8 x 64 (512 sessions); and a
small three-tier one (2 pods x (8 leaves + 2 spines) + 2 cores, 256 sessions).
"Converged" means: every configured session Established and every leaf has every other leaf's
loopback and server subnet installed in the FIB with the planned ECMP width (`twin check`'s
routing checks, polled). Also timed: a full `check` (with 4,032 pings on 8 x 64), reconvergence
after a leaf-spine link failure and after its restore, and `down`.
Target: 8 x 64 converged in < 60 s on this 2-core machine. Needs root and Debian's frr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tokenfab.twin import api

# servers_per_su 2 and 8 rails: 8 leaves per scalable unit; a high leaf oversubscription leaves
# exactly `spines` uplinks, one to each spine (these fabrics measure the control plane only).
SIZES = [
    ("4x16", {"servers": 4, "oversubscription": 15, "spines": 4}),
    ("8x64", {"servers": 16, "oversubscription": 7, "spines": 8}),
    # three tiers: 2 pods of 8 leaves under 2 spines each, 2 cores (32 links per spine-core pair)
    ("3-tier", {"servers": 32, "oversubscription": 7, "spines": 2, "tiers": 3, "gpus": 2, "per_su": 4}),
]


def mem_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def configured(
    tmp: Path, label: str, servers: int, oversubscription: float, spines: int, tiers: int = 2, gpus: int = 8, per_su: int = 2
) -> Path:
    intent = {
        "name": f"bench-{label}",
        "cluster": {"servers": servers, "gpus_per_server": gpus},
        "fabric": {
            "architecture": "rail-optimized",
            "switch_model": "CX864E-N",
            "servers_per_su": per_su,
            "tiers": tiers,
            "leaf": {"oversubscription": oversubscription},
            "spine": {"count": spines},
        },
    }
    path = tmp / f"{label}.yaml"
    path.write_text(yaml.safe_dump(intent))
    out = tmp / label
    for args in (["plan", path, "-o", out], ["configure", out]):
        subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], check=True, capture_output=True)
    return out


def main() -> int:
    if os.geteuid() != 0:
        print("twin_scale needs root (network namespaces)")
        return 1
    print(
        f"{'fabric':<7}{'switches':>9}{'sessions':>9}{'setup':>8}{'FRR up':>8}{'converged':>10}{'check':>8}"
        f"{'link fail':>10}{'restore':>9}{'poll':>7}{'down':>7}{'FRR RSS':>9}{'host mem':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, size in SIZES:
            out = configured(Path(tmp), label, **size)
            name = f"bench-{label}-{os.getpid() % 10000}"
            mem0 = mem_available_bytes()
            try:
                r = api.up(out, name=name, wait=True, timeout_s=300)
                mem1 = mem_available_bytes()
                if not r["converged"]:
                    print(f"{label}: not converged in 300 s")
                    return 1
                t = time.monotonic()
                ok = api.check(name)["ok"]
                check_s = time.monotonic() - t
                link = next(api.lay.load(out).fabric.iter_links("leaf-spine"))
                f = api.fail(f"{link.a}--{link.b}", name)
                back = api.restore(f"{link.a}--{link.b}", name)
            finally:
                t = time.monotonic()
                api.down(name)
                down_s = time.monotonic() - t
            print(
                f"{label:<7}{r['switches']:>9}{r['sessions']:>9}{r['setup_s']:>7.1f}s{r['daemons_s']:>7.1f}s"
                f"{r['converged_s']:>9.1f}s{check_s:>7.1f}s{f['converged_s']:>9.2f}s{back['converged_s']:>8.2f}s{f['poll_s']:>6.2f}s"
                f"{down_s:>6.1f}s{r['daemon_rss_bytes'] / 2**30:>7.2f}GiB{(mem0 - mem1) / 2**30:>8.2f}GiB"
                + ("" if ok else "  CHECK FAILED")
            )
    print(
        "times from the start of `twin up`: setup = namespaces + veths + addresses; FRR up = all zebra/bgpd "
        "started; converged = all sessions Established and all leaf routes at the planned ECMP width in the FIB. "
        "link fail / restore: reconvergence after a leaf-spine link goes down / comes back; poll = one poll of all "
        "switches, the resolution of those two figures. "
        "FRR RSS sums the daemons' resident memory; host mem is the drop in MemAvailable (kernel included)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
