"""Configure and validate a 2,048-GPU fabric (examples/clos-2048.yaml: 256 x 8-GPU servers, 48 x
CX864E-N): write every file, then check every config_db.json against SONiC's YANG models, every
frr.conf with FRR's vtysh, and the fabric-wide checks. Prints wall time per phase and peak memory.
Target: configure + validate under 30 s on 2 cores.

    python benchmarks/configure_validate.py [intent.yaml ...]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tokenfab import load_intent, plan
from tokenfab.configure import bundle, validate

ROOT = Path(__file__).resolve().parents[1]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(intent: Path) -> bool:
    t0 = time.perf_counter()
    fabric = plan(load_intent(intent))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        written = bundle.write(fabric, out)
        t2 = time.perf_counter()
        report = validate.validate_folder(out)
        t3 = time.perf_counter()
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    d = fabric.design
    print(
        f"{intent.name}: {d['gpus']:,} GPUs, {report.switches} switches, {report.hosts} servers, "
        f"{len(written):,} files ({size / 2**20:,.1f} MiB)"
    )
    print(
        f"  plan {t1 - t0:5.2f} s | configure {t2 - t1:5.2f} s | validate {t3 - t2:5.2f} s "
        f"(YANG + vtysh: {'yes' if report.frr_parsed else 'no vtysh'}) | configure + validate {t3 - t1:5.2f} s "
        f"(target < 30 s) | peak memory {peak_mib():,.0f} MiB"
    )
    print(f"  violations: {len(report.violations)}")
    return report.ok


def main(argv: list[str]) -> int:
    intents = [Path(a) for a in argv] or [ROOT / "examples" / "clos-2048.yaml"]
    return 0 if all(run(i) for i in intents) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
