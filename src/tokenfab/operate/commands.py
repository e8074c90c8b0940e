"""`tokenfab operate ...`: telemetry from the factory simulation or a twin, detectors, priced actions, report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from tokenfab.clikit import console, err, fail
from tokenfab.errors import InputError

operate_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Operate the fabric: telemetry, detectors, actions priced in tokens.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(operate_app, name="operate")


def _factory(path: Path, fabric_path: Path | None):
    from tokenfab.clikit import load_plan_or_intent
    from tokenfab.factory.spec import load_factory

    spec, _ = load_factory(path)
    fp = (
        fabric_path
        if fabric_path is not None
        else (path.parent / spec.fabric if not Path(spec.fabric).is_absolute() else Path(spec.fabric))
    )
    try:
        fabric = load_plan_or_intent(fp)
    except InputError as exc:
        raise InputError(f"{'--fabric' if fabric_path is not None else f'{path}: fabric'}: {exc}") from None
    return spec, fabric


class Folder:
    """A telemetry folder written by `operate simulate` (or any folder with fabric.json and telemetry.parquet)."""

    def __init__(self, path: Path, telemetry: Path | None = None, fabric: Path | None = None):
        from tokenfab.clikit import load_plan_or_intent
        from tokenfab.fileio import load_json
        from tokenfab.operate.telemetry import Ports, read_parquet

        self.path = path
        if telemetry is None and not path.is_dir():
            raise InputError(
                f"{path}: not a folder (a telemetry folder from `tokenfab operate simulate`, or pass "
                f"--telemetry FILE.parquet --fabric PLAN)"
            )
        tel_path = telemetry or path / "telemetry.parquet"
        if not tel_path.exists():
            raise InputError(f"{tel_path}: no telemetry file")
        fab_path = fabric or path
        if fabric is None and not (path / "fabric.json").exists():
            raise InputError(f"{path}: no fabric.json (pass --fabric PLAN)")
        self.fabric = load_plan_or_intent(fab_path)
        self.telemetry = read_parquet(tel_path, Ports.of(self.fabric))
        jobs = path / "jobs.json" if path.is_dir() else None
        self.job_links: dict = {}
        if jobs is not None and jobs.exists():
            self.job_links = load_json(jobs, "jobs file").get("links", {})
        truth = path / "truth.json" if path.is_dir() else None
        self.truth = load_json(truth, "ground truth") if truth is not None and truth.exists() else []
        src = path / "source.json" if path.is_dir() else None
        self.source = load_json(src, "source") if src is not None and src.exists() else {}


def _warn(tel) -> None:
    for w in tel.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)


@operate_app.command("schema")
def schema_cmd(json_out: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """The telemetry columns: SONiC database field and OpenConfig path of each."""
    from rich.table import Table

    from tokenfab.operate.counters import schema_rows

    rows = schema_rows()
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    t = Table(title="telemetry columns (per switch port and sample)")
    for c in ("name", "kind", "unit", "sonic", "openconfig"):
        t.add_column(c, overflow="fold")
    from rich.markup import escape

    for r in rows:  # OpenConfig keys look like rich markup ([name=<port>]): escaped
        t.add_row(r["name"], r["kind"], r["unit"], escape(r["sonic"]), escape(r["openconfig"] or "-"))
    console.print(t)


@operate_app.command("simulate")
def simulate_cmd(
    factory: Path = typer.Argument(..., help="factory description YAML"),
    out: Path = typer.Option(Path("operate-out"), "-o", "--out", help="output folder"),
    fabric_path: Path | None = typer.Option(None, "--fabric", help="plan folder or intent instead of the description's fabric"),
    inject: str = typer.Option(
        "demo",
        "--inject",
        help="demo (an optic aging on a spine uplink a training job uses), none, or random (one of each degradation, seeded)",
    ),
    step_s: float = typer.Option(60.0, "--step-s", min=1.0, help="sampling interval, seconds"),
    seed: int | None = typer.Option(None, "--seed", help="noise and random events (default: the factory's seed)"),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
) -> None:
    """Telemetry of a factory run: counters per switch port from the simulator's link loads, with
    degradations injected and their ground truth (telemetry.parquet, truth.json, jobs.json, fabric.json)."""
    from tokenfab.operate.factory_source import simulate_factory
    from tokenfab.outputs import output_dir

    if inject not in ("demo", "none", "random"):
        fail(f"--inject: {inject!r} is not one of demo, none, random")
    if out.exists() and not force:  # before the run, not after it
        fail(f"output folder {out} exists; pass --force to replace it")
    try:
        spec, fabric = _factory(factory, fabric_path)
        events = {"demo": None, "none": [], "random": "random"}[inject]
        with console.status("running the factory and deriving its telemetry"):
            sc, run = simulate_factory(spec, fabric, events=events, step_s=step_s, seed=seed)
        with output_dir(out, force=force) as tmp:
            (tmp / "fabric.json").write_text(fabric.dumps())
            sc.telemetry.write_parquet(tmp / "telemetry.parquet")
            (tmp / "truth.json").write_text(json.dumps([e.as_dict() for e in sc.truth], indent=2) + "\n")
            spans = {j.name: [j.start_s, j.end_s, j.kind, int(len(j.gpus))] for j in sc.jobs}
            (tmp / "jobs.json").write_text(json.dumps({"links": sc.job_links, "spans": spans}, indent=2, sort_keys=True) + "\n")
            (tmp / "source.json").write_text(
                json.dumps(
                    {
                        "factory": str(factory.resolve()),
                        "fabric": str(fabric_path.resolve()) if fabric_path else None,
                        "step_s": step_s,
                        "seed": seed,
                        "inject": inject,
                    },
                    indent=2,
                )
                + "\n"
            )
    except InputError as exc:
        fail(str(exc))
    tel = sc.telemetry
    console.print(
        f"{len(tel.ports)} switch ports x {len(tel.t_s)} samples ({step_s:g} s) from {len(sc.jobs)} job spans; "
        f"injected: {', '.join(f'{e.kind} on {e.link} at {e.at_s / 3600:.1f} h' for e in sc.truth) or 'nothing'}"
    )
    console.print(f"wrote [bold]{out}[/]: fabric.json, telemetry.parquet, truth.json, jobs.json, source.json")


def _findings_table(findings, title: str):
    from rich.table import Table

    t = Table(title=title)
    for c in ("#", "detected (h)", "kind", "link / port", "what", "jobs"):
        t.add_column(c, overflow="fold")
    for i, f in enumerate(findings, 1):
        t.add_row(str(i), f"{f.t_s / 3600:.2f}", f.kind, f.port, f.text, ", ".join(f.jobs) or "-")
    return t


@operate_app.command("detect")
def detect_cmd(
    folder: Path = typer.Argument(..., help="telemetry folder (from `operate simulate`)"),
    telemetry: Path | None = typer.Option(None, "--telemetry", help="a Parquet file of samples instead of the folder's"),
    fabric_path: Path | None = typer.Option(None, "--fabric", help="plan folder or intent (default: the folder's fabric.json)"),
    json_out: bool = typer.Option(False, "--json", help="findings as JSON"),
) -> None:
    """Run every detector over stored telemetry: failing links, PFC storms, hot spots, BGP flaps."""
    from tokenfab.operate.detect import detect_all

    try:
        d = Folder(folder, telemetry, fabric_path)
    except InputError as exc:
        fail(str(exc))
    _warn(d.telemetry)
    findings = detect_all(d.telemetry, d.job_links)
    if json_out:
        print(json.dumps([f.as_dict() for f in findings], indent=2))
        return
    console.print(_findings_table(findings, f"{len(findings)} findings"))


def _advice(d: Folder, factory: Path | None, fabric_path: Path | None, findings):
    from tokenfab.operate.advise import Pricer, advise

    src = factory or (Path(d.source["factory"]) if d.source.get("factory") else None)
    if src is None:
        raise InputError("no factory to price actions with: pass --factory F.yaml")
    fab = fabric_path or (Path(d.source["fabric"]) if d.source.get("fabric") else None)
    spec, fabric = _factory(src, fab)
    until = max((f.t_s for f in findings), default=0.0) / 3600.0 + 24.0
    with console.status("pricing actions with the factory simulation"):
        return advise(findings, Pricer(spec, fabric, d.job_links, until_h=until))


@operate_app.command("advise")
def advise_cmd(
    folder: Path = typer.Argument(..., help="telemetry folder (from `operate simulate`)"),
    factory: Path | None = typer.Option(None, "--factory", help="factory description to price with (default: the one simulated)"),
    fabric_path: Path | None = typer.Option(None, "--fabric", help="plan folder or intent for that factory"),
    json_out: bool = typer.Option(False, "--json", help="findings and priced actions as JSON"),
) -> None:
    """Findings with recommended actions, each priced by the factory against doing nothing (tokens,
    GPU-hours, dollars over the next day)."""
    from rich.table import Table

    from tokenfab.operate.detect import detect_all

    try:
        d = Folder(folder)
        findings = detect_all(d.telemetry, d.job_links)
        advice = _advice(d, factory, fabric_path, findings)
    except InputError as exc:
        fail(str(exc))
    _warn(d.telemetry)
    if json_out:
        print(json.dumps([a.as_dict() for a in advice], indent=2))
        return
    if not advice:
        console.print("no findings: nothing to do")
    for i, a in enumerate(advice, 1):
        f = a.finding
        t = Table(title=f"{i}. {f.kind} on {f.link}, detected at {f.t_s / 3600:.2f} h", title_justify="left")
        for c, j in (
            ("action", "left"),
            ("tokens lost", "right"),
            ("GPU-h lost", "right"),
            ("$ lost", "right"),
            ("what", "left"),
        ):
            t.add_column(c, justify=j, overflow="fold")
        for p in a.actions:
            t.add_row(
                p.action + (" (best)" if p.action == a.best else ""),
                f"{p.lost_tokens:,.0f}",
                f"{p.lost_gpu_h:,.1f}",
                f"{p.lost_usd:,.0f}",
                p.text + ("; " + "; ".join(p.notes) if p.notes else ""),
            )
        console.print(f.text, highlight=False)
        console.print(t)


@operate_app.command("report")
def report_cmd(
    folder: Path = typer.Argument(..., help="telemetry folder (from `operate simulate`)"),
    out: Path | None = typer.Option(None, "-o", "--out", help="HTML file (default: FOLDER/report.html)"),
    no_advice: bool = typer.Option(False, "--no-advice", help="skip pricing the actions"),
) -> None:
    """An HTML page: each finding with plots of its signals around it (and its priced actions)."""
    import os

    from tokenfab.operate.detect import detect_all
    from tokenfab.operate.page import render

    try:
        d = Folder(folder)
        findings = detect_all(d.telemetry, d.job_links)
        advice = None if no_advice or not findings else _advice(d, None, None, findings)
        page = render(d.telemetry, findings, advice, d.truth, title=f"tokenfab operate: {folder.name}")
    except InputError as exc:
        fail(str(exc))
    target = out or folder / "report.html"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page)
    os.replace(tmp, target)
    console.print(f"{len(findings)} findings; wrote [bold]{target}[/]")


@operate_app.command("watch")
def watch_cmd(
    factory: Path | None = typer.Argument(None, help="factory description YAML to watch (its simulated telemetry)"),
    fabric_path: Path | None = typer.Option(None, "--fabric", help="plan folder or intent for the factory"),
    twin: str | None = typer.Option(None, "--twin", help="watch a running twin instead (its --name)"),
    prometheus: int | None = typer.Option(
        None, "--prometheus", min=0, max=65535, help="serve /metrics on this loopback port while watching"
    ),
    speed: float = typer.Option(0.0, "--speed", min=0.0, help="factory: samples per second (0: as fast as it goes)"),
    every: int = typer.Option(10, "--every", min=1, help="run the detectors every N samples"),
    samples: int | None = typer.Option(None, "--samples", min=1, help="stop after N samples"),
    interval_s: float = typer.Option(5.0, "--interval", min=0.5, help="twin: seconds between samples"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="twin: its state folder"),
    history: Path | None = typer.Option(
        None,
        "--history",
        help="append the samples to this folder as Parquet (one file per 60 samples; query with DuckDB, see operate/store.py)",
    ),
) -> None:
    """Watch telemetry live - a factory run replayed sample by sample, or a running twin - printing
    findings as the detectors raise them, optionally serving Prometheus's /metrics."""
    from tokenfab.operate.detect import detect_all

    if (factory is None) == (twin is None):
        fail("watch a factory description or --twin NAME (one of them)")
    server = None
    collector = None
    if prometheus is not None:
        from tokenfab.operate.prom import TelemetryCollector, serve

        collector = TelemetryCollector()
        try:
            server, _ = serve(collector, prometheus)
        except OSError as exc:
            fail(f"--prometheus {prometheus}: cannot listen on 127.0.0.1:{prometheus} ({exc.strerror})")
        console.print(f"serving http://127.0.0.1:{server.server_port}/metrics")
    try:
        if twin is not None:
            _watch_twin(twin, state_dir, interval_s, samples, every, collector, history)
            return
        from tokenfab.operate.factory_source import simulate_factory

        try:
            spec, fabric = _factory(factory, fabric_path)
            with console.status("running the factory and deriving its telemetry"):
                sc, _ = simulate_factory(spec, fabric)
        except InputError as exc:
            fail(str(exc))
        tel = sc.telemetry
        n = len(tel.t_s) if samples is None else min(samples, len(tel.t_s))
        seen: set = set()
        for k in range(n):
            if collector is not None:
                collector.show(tel, k)
            if history is not None and ((k + 1) % 60 == 0 or k == n - 1):
                from tokenfab.operate import store

                k0 = (k // 60) * 60
                store.append(history, tel.window(tel.t_s[k0], tel.t_s[k]).to_arrow(), f"t{int(tel.t_s[k0]):010d}")
            if (k + 1) % every == 0 or k == n - 1:
                for f in detect_all(tel.window(tel.t_s[0], tel.t_s[k]), sc.job_links):
                    key = (f.kind, f.link)
                    if key not in seen:
                        seen.add(key)
                        console.print(
                            f"[bold]{tel.t_s[k] / 3600:6.2f} h[/] {f.kind} on {f.link}: {f.text}", highlight=False, soft_wrap=True
                        )
            if speed > 0:
                time.sleep(1.0 / speed)
        console.print(f"watched {n} samples of {len(tel.ports)} ports; {len(seen)} findings")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def pa_equal(table, column: str, value):
    import pyarrow.compute as pc

    return pc.equal(table.column(column), value)


def _watch_twin(name, state_dir, interval_s, samples, every, collector, history) -> None:
    from tokenfab.operate.twin_source import TwinSampler

    try:
        sampler = TwinSampler(name, state_dir)
    except InputError as exc:
        fail(str(exc))
    from tokenfab.operate.detect import bgp_flaps

    n = samples or 10**9
    seen: set = set()
    for k in range(n):
        sampler.sample()
        tel = sampler.telemetry()
        if collector is not None:
            collector.show(tel, len(tel.t_s) - 1, sampler.device_rows[-len(sampler.layout.switches) :])
        if history is not None:
            from tokenfab.operate import store

            stamp = f"t{int(tel.t_s[-1] * 1000):016d}"
            store.append(history, tel.window(tel.t_s[-1], tel.t_s[-1]).to_arrow(), stamp)
            dev = sampler.devices()
            store.append(history / "devices", dev.filter(pa_equal(dev, "time_s", dev.column("time_s")[-1])), stamp)
        if (k + 1) % every == 0:
            for f in bgp_flaps(tel):
                if (f.kind, f.link) not in seen:
                    seen.add((f.kind, f.link))
                    console.print(f"{f.kind}: {f.text}", highlight=False)
        last = sampler.device_rows[-len(sampler.layout.switches) :]
        console.print(
            f"sample {k + 1}: {int((tel.values['bgp_established'][-1] == 1).sum())} sessions established, "
            f"{int((tel.values['oper_up'][-1] == 1).sum())} ports up, {sum(r['bgp_routes'] for r in last)} BGP routes, "
            f"ECMP {min((r['min_ecmp'] for r in last), default=0)}-{max((r['max_ecmp'] for r in last), default=0)}",
            highlight=False,
        )
        if k + 1 < n:
            time.sleep(interval_s)
