"""`auto` on 262,144 GPUs (32,768 servers x 8, 400G NICs, planes: auto): search the design space,
build the winner and write the full plan folder (fabric.json, BOM, cabling, IP plan, diagram).
Prints wall time, peak memory and the candidates evaluated. Targets: < 30 s and < 4 GiB on 2 cores.
Then the same search over four switch models (per tier), search only."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tokenfab import parse_intent, plan
from tokenfab.catalog import load_catalog
from tokenfab.design.search import search
from tokenfab.report import write_plan


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    intent = parse_intent({"name": "auto-262k", "cluster": {"servers": 32768, "gpus_per_server": 8, "planes": "auto"}})
    t0 = time.perf_counter()
    result = search(intent, load_catalog())
    t_search = time.perf_counter() - t0
    fabric = plan(intent)
    t_plan = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        written = write_plan(fabric, Path(tmp) / "out")
        size = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*") if p.is_file())
    total = time.perf_counter() - t0
    d = fabric.design
    feasible = sum(c.feasible for c in result.candidates)
    print(f"262,144 GPUs, auto: {len(result.candidates)} candidates evaluated ({feasible} feasible), search {t_search:.2f} s")
    print(f"  chose {result.best.choice.label()}")
    print(f"  {d['leaves']:,} leaves, {d['spines']:,} spines, {d['cores']:,} cores, {len(fabric.links):,} links")
    print(
        f"  search + plan {t_plan:.2f} s; with the plan folder written ({len(written)} files, {size / 2**20:,.0f} MiB) "
        f"{total:.2f} s; peak memory {peak_mib():,.0f} MiB"
    )
    many = parse_intent(
        {
            "name": "auto-262k-models",
            "cluster": {"servers": 32768, "gpus_per_server": 8, "planes": "auto"},
            "fabric": {"switch_model": ["CX864E-N", "TH5-64x800G", "SN5600", "TH4-64x400G"]},
        }
    )
    t0 = time.perf_counter()
    r = search(many, load_catalog())
    print(
        f"4 switch models per tier: {len(r.candidates):,} candidates evaluated "
        f"({sum(c.feasible for c in r.candidates):,} feasible) in {time.perf_counter() - t0:.2f} s; chose {r.best.choice.short()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
