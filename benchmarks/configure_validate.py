"""Configure and validate a fabric: write every file, then check every config_db.json against SONiC's
YANG models, every frr.conf with FRR's vtysh, and the fabric-wide checks. Prints wall time per phase,
the CPU seconds validate used (all its processes: a figure that does not depend on what else the
machine is doing) and peak memory.

Validate runs as users run it, `tokenfab validate OUT` in a process of its own (with its worker
processes), so its memory is its own and not configure's: the peak printed is the largest sum of the
resident memory of that process and its workers, sampled every 50 ms.

Targets on 2 cores: examples/clos-2048.yaml (256 x 8-GPU servers, 48 switches) configure + validate
under 30 s; examples/three-tier-32k.yaml (4,096 servers, 1,280 switches) validate under 60 s and 1 GiB.

    python benchmarks/configure_validate.py [intent.yaml ...]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from tokenfab import load_intent, plan
from tokenfab.configure import bundle

ROOT = Path(__file__).resolve().parents[1]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that just ended
            pass
    return total


def validate_in_own_process(out: Path) -> tuple[dict, float, float, float]:
    """(the --json report, wall s, CPU s of validate and its workers, peak resident MiB of them all)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as printed:  # a file, not a pipe: a long report never blocks the writer
        proc = subprocess.Popen(
            [sys.executable, "-m", "tokenfab.cli", "validate", str(out), "--json"],
            stdout=printed,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
        )
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(watched))
            time.sleep(0.05)
        printed.seek(0)
        report = json.loads(printed.read() or b"{}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return report, wall, cpu, peak / 2**20


def run(intent: Path) -> bool:
    t0 = time.perf_counter()
    fabric = plan(load_intent(intent))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        written = bundle.write(fabric, out)
        t2 = time.perf_counter()
        configure_peak = peak_mib()
        report, wall, cpu, peak = validate_in_own_process(out)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    d = fabric.design
    violations = report.get("violations", [])
    print(
        f"{intent.name}: {d['gpus']:,} GPUs, {report.get('switches', 0)} switches, {report.get('hosts', 0)} servers, "
        f"{len(written):,} files ({size / 2**20:,.1f} MiB); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  plan {t1 - t0:5.2f} s | configure {t2 - t1:5.2f} s (peak {configure_peak:,.0f} MiB, with the plan) | "
        f"validate {wall:5.2f} s, {cpu:5.1f} CPU s, peak {peak:,.0f} MiB in all its processes "
        f"(YANG + vtysh: {'yes' if report.get('frr_parsed_with_vtysh') else 'no vtysh'}) | configure + validate {t2 - t1 + wall:5.2f} s"
    )
    print(f"  violations: {len(violations)}")
    return bool(report) and not violations


def main(argv: list[str]) -> int:
    intents = [Path(a) for a in argv] or [ROOT / "examples" / "clos-2048.yaml"]
    return 0 if all(run(i) for i in intents) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
