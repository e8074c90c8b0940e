"""One function per CLI verb: the CLI parses arguments, calls these, and renders what they return.

Each takes what a user has at hand (an intent file, a plan folder, a Fabric) and returns typed
results; files are written only where a verb's job is to write them (`configure`, and `plan`,
`run_factory`, `sweep` when given `out`). Imports stay inside the functions so `import tokenfab`
and `tokenfab --help` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenfab.catalog import Catalog
    from tokenfab.configure.validate import Report
    from tokenfab.design.model import Fabric
    from tokenfab.factory.spec import FactorySpec
    from tokenfab.intent import Intent
    from tokenfab.sim import Faults, SimParams
    from tokenfab.sim.report import Line
    from tokenfab.sweep.spec import SweepSpec


def _intent(intent: Any) -> Intent:
    from tokenfab.intent import Intent, load_intent, parse_intent

    if isinstance(intent, Intent):
        return intent
    if isinstance(intent, dict):
        return parse_intent(intent)
    return load_intent(intent)


def load_fabric(source: Fabric | Intent | dict | str | Path) -> Fabric:
    """A Fabric from a plan folder, its fabric.json, an intent file, an Intent or an intent dict
    (an intent is planned by the same code as `tokenfab plan`)."""
    from tokenfab.design.model import Fabric
    from tokenfab.errors import InputError
    from tokenfab.intent import Intent

    if isinstance(source, Fabric):
        return source
    if isinstance(source, (Intent, dict)):
        return plan(source)
    path = Path(source)
    if path.is_dir() or path.suffix == ".json":
        return Fabric.load(path)
    if not path.exists():
        raise InputError(f"{path}: no such intent file or plan folder")
    return plan(path)


def plan(
    intent: Intent | dict | str | Path,
    catalog: Catalog | None = None,
    *,
    out: str | Path | None = None,
    force: bool = False,
    old: Fabric | None = None,
) -> Fabric:
    """`tokenfab plan`: design the fabric. With `out`, also write the plan folder (fabric.json, BOM,
    cabling, IP plan, diagram; `old` adds a diff against an earlier plan)."""
    from tokenfab.design import design

    fabric = design(_intent(intent), catalog)
    if out is not None:
        from tokenfab.report import write_plan

        write_plan(fabric, out, force=force, old=old)
    return fabric


def plan_dir_of(source: Any) -> Path | None:
    """The plan folder `source` names (a folder or its fabric.json), else None."""
    if not isinstance(source, (str, Path)):
        return None
    p = Path(source)
    return p if p.is_dir() else (p.parent if p.suffix == ".json" else None)


def configure(
    source: Fabric | Intent | dict | str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    ztp_url: str | None = None,
    add_to_plan: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """`tokenfab configure`: write every switch's config_db.json and frr.conf, host settings, ZTP and
    exports; returns the files written. `out` defaults to the plan folder itself or ./out for an
    intent; the files join the plan's own when `out` is the plan folder (`add_to_plan`, decided
    from `source` when None)."""
    from tokenfab.configure import bundle

    plan_dir = plan_dir_of(source)
    fabric = load_fabric(source)
    out = Path(out) if out is not None else (plan_dir or Path("out"))
    if add_to_plan is None:
        add_to_plan = plan_dir is not None and out.resolve() == plan_dir.resolve()
    return bundle.write(fabric, out, force=force, add_to_plan=add_to_plan, ztp_url=ztp_url, progress=progress)


def configure_count(source: Fabric) -> int:
    """How many files `configure` writes for this fabric (for a progress bar)."""
    from tokenfab.configure import bundle

    return bundle.count(source)


def validate(
    folder: str | Path,
    *,
    check_frr: bool = True,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Report:
    """`tokenfab validate`: check a configure output folder (SONiC YANG, checks across devices,
    frr.conf) in `workers` processes (default: one per core). `report.ok` is True when clean;
    `report.violations` lists what is not."""
    from tokenfab.configure.validate import validate_folder

    return validate_folder(folder, progress=progress, check_frr=check_frr, workers=workers)


@dataclass(frozen=True)
class Simulation:
    """What `simulate` returns: one line per size (each with every seed's result)."""

    fabric: Fabric
    collective: str
    gpus: list[int]
    sizes: list[int]
    lines: list[Line]


def simulate(
    source: Fabric | Intent | dict | str | Path,
    collective: str = "all_reduce",
    sizes: Sequence[int] = (1 << 20, 1 << 30),
    *,
    gpus: int | None = None,
    servers: str | None = None,
    algorithm: str = "auto",
    routing: str = "ecmp",
    qps: int = 1,
    seeds: int = 1,
    seed: int = 0,
    faults: Faults | None = None,
    params: SimParams | None = None,
    dtype: str = "float",
    record_links: bool = False,
    progress: Callable[[], None] | None = None,
) -> Simulation:
    """`tokenfab simulate`: NCCL collectives on the fabric, nccl-tests style, for every size and seed
    (`record_links`: also record each link's bytes over time, for link-load pictures)."""
    from tokenfab.errors import InputError
    from tokenfab.sim import Routing, Simulator
    from tokenfab.sim.report import Line
    from tokenfab.sim.sizes import collective_name

    coll = collective_name(collective)
    if seeds < 1:
        raise InputError(f"seeds must be >= 1, got {seeds}", "seeds")
    fabric = load_fabric(source)
    sim = Simulator(fabric, params, faults)
    ids = sim.gpus(gpus, servers)
    per_seed = []
    for k in range(seeds):
        rt = Routing(routing, qps=qps, seed=seed + k)
        per_seed.append(
            sim.sweep(coll, ids, list(sizes), algorithm=algorithm, routing=rt, dtype=dtype, record_links=record_links)
        )
        if progress:
            progress()
    lines = [Line([runs[i] for runs in per_seed]) for i in range(len(sizes))]
    return Simulation(fabric, coll, list(ids), list(sizes), lines)


def load_factory(
    factory: str | Path, *, fabric: Fabric | Intent | dict | str | Path | None = None
) -> tuple[FactorySpec, dict, Fabric]:
    """A factory description (its spec and raw mapping, for variants) and the Fabric it runs on: the one
    it names (relative to it), or `fabric` instead (a plan folder, an intent or a Fabric)."""
    from tokenfab.errors import InputError
    from tokenfab.factory.spec import load_factory as load_spec

    factory = Path(factory)
    spec, raw = load_spec(factory)
    try:
        return spec, raw, load_fabric(fabric if fabric is not None else factory.parent / spec.fabric)
    except InputError as exc:
        if fabric is not None:  # field "fabric": the CLI names it by its option, --fabric
            raise InputError(str(exc), "fabric") from None
        raise InputError(f"{factory}: fabric: {exc}") from None


def run_factory(
    factory: str | Path,
    *,
    fabric: Fabric | Intent | dict | str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[tuple[Any, dict]]:
    """`tokenfab factory run`: simulate a factory description (and each of its `compare:` variants)
    over its window; returns (run, summary) per variant. With `out`, also write the report folder
    (refused before any simulation when it may not be written). `fabric` replaces the description's
    own fabric (a plan folder, an intent or a Fabric). `progress(done, total, variant)` is called
    before each variant is simulated."""
    from tokenfab.errors import InputError
    from tokenfab.factory import engine, report
    from tokenfab.factory.bounds import check_failures
    from tokenfab.factory.kpis import summarize
    from tokenfab.factory.spec import variants

    factory = Path(factory)
    spec, raw, base = load_factory(factory, fabric=fabric)
    todo = variants(spec, raw, str(factory))
    if out is not None:
        from tokenfab.outputs import check_target

        check_target(Path(out), force)  # before the simulation, not after it
    fabrics = {spec.fabric: base}  # a variant may name a fabric of its own (relative to the description)
    for name, sp in todo:
        if sp.fabric not in fabrics:
            try:
                fabrics[sp.fabric] = load_fabric(factory.parent / sp.fabric)
            except InputError as exc:
                raise InputError(f"{factory}: compare {name!r}: fabric: {exc}") from None
        try:
            check_failures(sp, int(fabrics[sp.fabric].design["gpus"]))
        except InputError as exc:
            raise InputError(f"{factory}: {name}: {exc}") from None
    runs = []
    for i, (name, sp) in enumerate(todo):
        if progress:
            progress(i, len(todo), name)
        run = engine.run_factory(sp, fabrics[sp.fabric])
        runs.append((run, summarize(run)))
    if out is not None:
        report.write(Path(out), report.factory_files(runs), force)
    return runs


def sweep(
    spec: str | Path | tuple[SweepSpec, dict, dict | None],
    *,
    out: str | Path | None = None,
    jobs: int = 2,
    ray: str | None = None,
    force: bool = False,
    resume: bool = False,
    show_progress: bool = False,
) -> list[dict]:
    """`tokenfab sweep`: evaluate every point of a sweep file (plans, and simulate/factory metrics when it
    asks for them); rows carry the axes, status, metrics and `pareto`. `spec` is the file, or what
    `tokenfab.sweep.load_sweep` read from it. With `out`, the folder the CLI writes (results.csv/.parquet,
    sweep.duckdb, Pareto plots, best intents); without it, a scratch one. The catalog in force here
    (--catalog, the user-wide folder) is the one every worker plans with, local or on Ray."""
    import tempfile

    from tokenfab.sweep import load_sweep, run_to_folder

    sp, base, factory = load_sweep(spec) if isinstance(spec, (str, Path)) else spec
    if out is None:
        with tempfile.TemporaryDirectory(prefix="tokenfab-sweep-") as tmp:
            return sweep((sp, base, factory), out=Path(tmp) / "sweep", jobs=jobs, ray=ray, show_progress=show_progress)
    rows, _ = run_to_folder(
        sp, base, factory, Path(out), jobs=jobs, ray_address=ray, resume=resume, force=force, show_progress=show_progress
    )
    return rows
