"""`tokenfab sweep SPEC -o OUT`: evaluate many designs (and simulate / factory variants), keep the Pareto front."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        spec_path: Path = typer.Argument(..., metavar="SPEC", help="sweep YAML (base intent, optional simulate/factory, axes)"),
        out: Path = typer.Option(Path("sweep-out"), "-o", "--out", help="output folder (holds sweep.duckdb while running)"),
        jobs: int = typer.Option(
            2, "--jobs", "-j", min=1, max=256, help="local worker processes (1: in this process; at most 256)"
        ),
        ray: str | None = typer.Option(None, "--ray", help="run as Ray tasks: auto (the running cluster), local, or ADDRESS"),
        resume: bool = typer.Option(False, "--resume", help="finish a killed sweep in OUT: only unfinished points run"),
        force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    ) -> None:
        """Sweep designs x simulate/factory variants; results.csv/.parquet, sweep.duckdb, Pareto plots, best intents."""
        from rich.table import Table

        import tokenfab
        from tokenfab.clikit import console, fail, show
        from tokenfab.errors import InputError
        from tokenfab.sweep import load_sweep

        try:
            loaded = load_sweep(spec_path)
            rows = tokenfab.sweep(loaded, out=out, jobs=jobs, ray=ray, resume=resume, force=force, show_progress=True)
        except InputError as exc:
            fail(str(exc))
        spec = loaded[0]
        best = [r for r in rows if r["pareto"]]
        axes = [a.path for a in spec.axes]
        metrics = [o.metric for o in spec.objectives]
        cols = ["point", *axes, "architecture", "switches", *[m for m in metrics if m not in ("switches", "architecture")]]
        t = Table(title=f"sweep {spec.name}: Pareto front ({len(best)} of {len(rows)} points)")
        for c in cols:
            t.add_column(c, justify="right", overflow="fold")
        for r in rows:
            if r["pareto"]:
                t.add_row(*(_cell(r.get(c)) for c in cols))
        show(t, "point", *axes, "architecture")
        by: dict[str, int] = {}
        for r in rows:
            by[r["status"]] = by.get(r["status"], 0) + 1
        console.print("points: " + ", ".join(f"{n} {s}" for s, n in sorted(by.items())) + " (reasons in results.csv)")
        console.print(f"wrote results.csv, results.parquet, sweep.duckdb, plots and best/ to [bold]{out}[/]")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return "" if v is None else str(v)
