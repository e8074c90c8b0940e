"""The sweep's output folder, written when every point is done:

sweep.duckdb            `points` (streamed while running; see store.py) and `results` (flat)
results.csv             one row per point: axes, status, reason, metrics, pareto (byte-stable)
results.parquet         the same table as Parquet
pareto-A--B.svg         each pair of objectives, the front marked (objective-A.svg with one objective)
best/NN-point-P.yaml    the intents of the best designs on the front (by the first objective), for `tokenfab plan`
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tokenfab.fileio import write_atomic
from tokenfab.sweep.pareto import front, plots
from tokenfab.sweep.spec import Point, SweepSpec
from tokenfab.sweep.store import Store, results_csv


def write(out: Path, spec: SweepSpec, pts: list[Point], rows: list[dict], store: Store) -> list[int]:
    best = front(rows, spec.objectives)
    on = set(best)
    for r in rows:
        r["pareto"] = r["point"] in on
    write_atomic(out / "results.csv", results_csv(rows))
    store.write_results(out / "results.csv", out / "results.parquet")
    for old in out.glob("pareto-*.svg"):
        old.unlink()
    for name, svg in plots(rows, spec.objectives, best, f"sweep {spec.name}").items():
        write_atomic(out / name, svg)
    folder = out / "best"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    by_number = {p.number: p for p in pts}
    first = spec.objectives[0]
    ranked = sorted(
        (r for r in rows if r["point"] in on), key=lambda r: (r[first.metric] * (1 if first.goal == "min" else -1), r["point"])
    )
    seen: set[str] = set()
    for r in ranked:
        p = by_number[r["point"]]
        if p.design in seen or len(seen) >= spec.best:
            continue
        seen.add(p.design)
        head = (
            f"# sweep {spec.name}, point {p.number}: on the Pareto front of "
            f"{', '.join(f'{o.metric} ({o.goal})' for o in spec.objectives)}\n"
            f"# {', '.join(f'{o.metric} = {r[o.metric]}' for o in spec.objectives)}\n"
            f"# tokenfab plan {folder.name}/{len(seen):02d}-point-{p.number}.yaml -o out/\n"
        )
        write_atomic(folder / f"{len(seen):02d}-point-{p.number}.yaml", head + yaml.safe_dump(p.intent, sort_keys=False))
    return best
