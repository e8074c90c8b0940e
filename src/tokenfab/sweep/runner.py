"""Run a sweep: plan each design once, prune by the constraints, evaluate the points that remain on a
process pool or Ray, stream every outcome into DuckDB, then write the results and the Pareto front.

The driver loop: submit every unfinished design; as each plan comes back, record its points (when
infeasible, pruned or plan-only) or submit them with the design's Fabric; as each point comes
back, record it. A worker that dies takes its tasks with it: the pool is restarted and they are
submitted again (at most three times each, then recorded as failed)."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from tokenfab.errors import InputError
from tokenfab.sweep.engines import LocalEngine, RayEngine
from tokenfab.sweep.spec import Point, SweepSpec, points
from tokenfab.sweep.store import Store

MAX_ATTEMPTS = 3


def fingerprint(spec: SweepSpec, pts: list[Point], layers: tuple = ()) -> str:
    what: list[Any] = [spec.name, [(p.number, p.axes, p.intent, p.simulate, p.factory) for p in pts]]
    if layers:  # a resume must plan with the same catalog files (without any, the fingerprint of old)
        what.append([layer.key for layer in layers])
    body = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def violated(spec: SweepSpec, metrics: dict[str, Any]) -> str:
    for c in spec.constraints:
        v = metrics.get(c.metric)
        if v is None:
            continue
        if c.max is not None and v > c.max:
            return f"{c.metric} {_num(v)} > max {_num(c.max)}"
        if c.min is not None and v < c.min:
            return f"{c.metric} {_num(v)} < min {_num(c.min)}"
    return ""


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:,.6g}"


def open_store(spec: SweepSpec, pts: list[Point], db: Path, resume: bool, layers: tuple = ()) -> Store:
    fp = fingerprint(spec, pts, layers)
    if resume and db.exists():
        return Store.resume(db, fp)  # (killed before its store existed: a resume starts it afresh)
    return Store.create(db, spec.name, fp, pts)


def execute(spec: SweepSpec, pts: list[Point], store: Store, engine, show_progress: bool = True) -> None:
    """Evaluate every pending point of the store, recording each as it finishes."""
    by_number = {p.number: p for p in pts}
    todo = [by_number[n] for n in store.pending()]
    designs: dict[str, list[Point]] = {}
    for p in todo:
        designs.setdefault(p.design, []).append(p)
    needs_points = spec.simulate is not None or spec.factory is not None
    counts = store.counts()
    total = len(pts)
    done0 = total - counts.get("pending", 0)
    state = {"done": done0, "failed": counts.get("failed", 0), "t0": time.perf_counter(), "new": 0}
    inflight: dict[Any, tuple[str, Any]] = {}
    attempts: dict[tuple[str, Any], int] = {}
    plans: dict[str, dict] = {}
    fabrics: dict[str, Any] = {}
    left: dict[str, int] = {k: len(v) for k, v in designs.items()}
    lost: tuple[type[BaseException], ...] = (BrokenProcessPool, *_ray_worker_errors())  # a worker died under the task

    columns = [
        TextColumn(f"sweep {spec.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TextColumn("{task.fields[rate]} points/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, disable=not show_progress, transient=True) as progress:
        bar = progress.add_task("sweep", total=total, completed=done0, failed=state["failed"], rate="-")

        def finish(p: Point, status: str, metrics: dict, reason: str = "", seconds: float = 0.0, node: str = "") -> None:
            store.record(p.number, status, metrics, reason, seconds, node)
            state["done"] += 1
            state["new"] += 1
            state["failed"] += status == "failed"
            left[p.design] -= 1
            if not left[p.design]:
                fabrics.pop(p.design, None)
            rate = state["new"] / max(time.perf_counter() - state["t0"], 1e-9)
            progress.update(bar, completed=state["done"], failed=state["failed"], rate=f"{rate:,.1f}")

        def submit(kind: str, ref: Any) -> None:
            if kind == "design":
                inflight[engine.design(designs[ref][0].intent, needs_points)] = (kind, ref)
            else:
                p = by_number[ref]
                inflight[engine.point(fabrics[p.design], p.simulate, p.factory)] = (kind, ref)

        def on_design(key: str, summary: dict, fabric: Any) -> None:
            plans[key] = summary
            members = designs[key]
            if summary["status"] != "ok":
                for p in members:
                    finish(p, summary["status"], {}, summary["reason"], summary["seconds"], summary["node"])
                return
            why = violated(spec, summary["metrics"])
            if why:
                for p in members:
                    finish(p, "pruned", summary["metrics"], f"constraint: {why}", summary["seconds"], summary["node"])
                return
            if not needs_points:
                for p in members:
                    finish(p, "ok", summary["metrics"], "", summary["seconds"], summary["node"])
                return
            fabrics[key] = fabric
            for p in members:
                submit("point", p.number)

        for key in designs:
            submit("design", key)
        while inflight:
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken: list[tuple[str, Any, str]] = []
            for f in done:
                kind, ref = inflight.pop(f)
                try:
                    result = f.result()
                except lost as exc:
                    broken.append((kind, ref, f"{type(exc).__name__}: {exc}"))
                    continue
                if kind == "design":
                    on_design(ref, *result)
                else:
                    p = by_number[ref]
                    metrics = {**plans[p.design]["metrics"], **result["metrics"]}
                    finish(p, result["status"], metrics, result["reason"], result["seconds"], result["node"])
            if broken:
                # the pool is gone: everything still in flight went with it
                broken += [(k, r, "worker died") for k, r in inflight.values()]
                inflight.clear()
                engine.restart()
                for kind, ref, why in broken:
                    attempts[(kind, ref)] = attempts.get((kind, ref), 0) + 1
                    if attempts[(kind, ref)] < MAX_ATTEMPTS:
                        submit(kind, ref)
                        continue
                    for p in designs[ref] if kind == "design" else [by_number[ref]]:
                        finish(p, "failed", {}, f"worker died {MAX_ATTEMPTS} times ({why})")


def _ray_worker_errors() -> tuple[type[BaseException], ...]:
    try:
        from ray.exceptions import RayError
    except ImportError:
        return ()
    return (RayError,)


def make_engine(jobs: int, ray_address: str | None, layers: tuple = ()):
    """Workers do not share the driver's context: the catalog in force here (`layers`) goes with them."""
    return RayEngine(ray_address, layers=layers) if ray_address else LocalEngine(jobs, layers)


def run_sweep(
    spec: SweepSpec,
    base: dict,
    factory: dict | None = None,
    out: Path | None = None,
    jobs: int = 2,
    ray_address: str | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> list[dict]:
    """Run (or resume) the sweep; returns its rows in point order (see outputs.write for the files)."""
    pts = points(spec, base, factory)
    if out is None:
        with tempfile.TemporaryDirectory() as tmp:
            return _run(spec, pts, Path(tmp) / "sweep.duckdb", jobs, ray_address, False, show_progress)[0]
    return _run(spec, pts, Path(out) / "sweep.duckdb", jobs, ray_address, resume, show_progress)[0]


def _run(spec, pts, db: Path, jobs, ray_address, resume, show_progress) -> tuple[list[dict], Store]:
    from tokenfab.catalog import active_layers

    layers = active_layers()
    store = open_store(spec, pts, db, resume, layers)
    try:
        engine = make_engine(jobs, ray_address, layers)
        try:
            execute(spec, pts, store, engine, show_progress)
        finally:
            engine.close()
        return store.rows(), store
    finally:
        store.close()


def run_to_folder(
    spec: SweepSpec,
    base: dict,
    factory: dict | None,
    out: Path,
    jobs: int = 2,
    ray_address: str | None = None,
    resume: bool = False,
    force: bool = False,
    show_progress: bool = True,
) -> tuple[list[dict], list[int]]:
    """The CLI's sweep: the store lives in `out` while it runs (so --resume finds it); the results,
    plots and best intents are written when every point is done."""
    import shutil

    from tokenfab.catalog import active_layers
    from tokenfab.outputs import MARKER, MARKER_TEXT, check_target
    from tokenfab.sweep import outputs

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    if resume and force:
        raise InputError("--resume and --force contradict each other: --force starts again")
    if out.exists() and not resume and not force:
        raise InputError(f"output folder {out} exists; pass --resume to finish its sweep or --force to start again")
    if not resume:
        check_target(out, force=force)  # --force replaces only a folder tokenfab wrote (its marker), never others
    pts = points(spec, base, factory)
    layers = active_layers()  # the catalog in force here (--catalog, user-wide folder): every worker's too
    engine = make_engine(jobs, ray_address, layers)  # before touching the folder: an unreachable cluster leaves nothing behind
    try:
        if out.exists() and not resume:
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text(MARKER_TEXT)  # a sweep folder (finished or resumable) is tokenfab's own
        store = open_store(spec, pts, out / "sweep.duckdb", resume, layers)
        try:
            execute(spec, pts, store, engine, show_progress)
            rows = store.rows()
            best = outputs.write(out, spec, pts, rows, store)
        finally:
            store.close()
    finally:
        engine.close()
    return rows, best
