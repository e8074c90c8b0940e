"""Sweep throughput: points per second and driver memory for
- a 1,000-point plan sweep (5 switch models x 4 oversubscriptions x 50 cluster sizes, 64-1,632 GPUs), and
- a 100-point factory sweep (a day of examples/factory-256.yaml, 256 GPUs, on 5 fabric variants x 2
  schedulers x 10 PUEs: each design planned once, its Fabric shared by its 20 points),
each on the local process pool (2 workers) and on a 2-process Ray cluster on this machine (a head and
one worker node, 1 CPU each, started here and stopped afterwards). Every driver runs in a process of
its own so its peak memory (ru_maxrss) is its own.

    python benchmarks/sweep_scale.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLAN = {
    "name": "plan-1000",
    "base": {"cluster": {"servers": 16, "gpus_per_server": 4}},
    "axes": [
        {"path": "fabric.switch_model", "values": ["CX864E-N", "TH5-64x800G", "SN5600", "TH4-64x400G", "CX732Q-N"]},
        {"path": "fabric.leaf.oversubscription", "values": [1, 1.5, 2, 3]},
        {"path": "cluster.servers", "values": list(range(16, 416, 8))},
    ],
}
FACTORY = {
    "name": "factory-100",
    "base": str(ROOT / "examples/rail-optimized-256.yaml"),
    "factory": str(ROOT / "examples/factory-256.yaml"),
    "axes": [
        {"path": "fabric.leaf.oversubscription", "values": [1, 1.25, 1.5, 2, 3]},
        {"path": "factory.scheduler.policy", "values": ["topology-aware", "first-fit"]},
        {"path": "factory.power.pue", "values": [1.05 + 0.05 * i for i in range(10)]},
    ],
    "objectives": [{"metric": "usd_per_mtoken", "goal": "min"}, {"metric": "tokens_per_kwh", "goal": "max"}],
}


def drive(spec_path: str, out: str, ray: str) -> None:
    """One driver: run the sweep, print its figures as JSON."""
    from tokenfab.sweep import load_sweep, run_to_folder

    spec, base, factory = load_sweep(spec_path)
    t0 = time.perf_counter()
    rows, _ = run_to_folder(spec, base, factory, Path(out), jobs=2, ray_address=ray or None, show_progress=False)
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "points": len(rows),
                "ok": sum(r["status"] == "ok" for r in rows),
                "seconds": dt,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> int:
    from tests.ray_cluster import LocalRayCluster

    cluster = LocalRayCluster(head_cpus=1, worker_cpus=1).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for spec in (PLAN, FACTORY):
                path = Path(tmp) / f"{spec['name']}.yaml"
                path.write_text(yaml.safe_dump(spec))
                for engine, ray in (("local pool, 2 workers", ""), ("Ray, head + 1 worker node", cluster.address)):
                    out = Path(tmp) / f"{spec['name']}-{'ray' if ray else 'local'}"
                    r = subprocess.run(
                        [sys.executable, __file__, "drive", str(path), str(out), ray],
                        env=cluster.driver_env(),
                        capture_output=True,
                        text=True,
                    )
                    if r.returncode:
                        print(r.stderr[-3000:])
                        return 1
                    f = json.loads(r.stdout.strip().splitlines()[-1])
                    print(
                        f"{spec['name']:>12} on {engine:<26}: {f['points']:,} points ({f['ok']:,} ok) in {f['seconds']:6.1f} s "
                        f"= {f['points'] / f['seconds']:6.2f} points/s; driver peak memory {f['peak_mib']:,.0f} MiB"
                    )
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "drive":
        drive(*sys.argv[2:5])
        sys.exit(0)
    sys.exit(main())
