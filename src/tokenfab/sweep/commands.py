"""`tokenfab sweep SPEC -o OUT`: evaluate a grid of designs, keep the Pareto front."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        spec_path: Path = typer.Argument(..., metavar="SPEC", help="sweep YAML (base intent + axes)"),
        out: Path = typer.Option(Path("sweep-out"), "-o", "--out", help="output folder"),
        jobs: int = typer.Option(2, "--jobs", "-j", min=1, max=256, help="local worker processes (at most 256)"),
        ray: Optional[str] = typer.Option(None, "--ray", help="run as Ray tasks: 'local' or a cluster address"),
        force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    ) -> None:
        """Plan many variants of one intent; results.csv, sweep.duckdb and pareto.svg."""
        from rich.table import Table

        from tokenfab.clikit import console, fail
        from tokenfab.errors import InputError
        from tokenfab.outputs import output_dir
        from tokenfab.sweep import load_sweep, run_sweep
        from tokenfab.sweep.pareto import front, pareto_svg
        from tokenfab.sweep.store import results_csv, write_duckdb

        try:
            spec, base = load_sweep(spec_path)
            with output_dir(out, force=force) as tmp:
                rows = run_sweep(spec, base, jobs=jobs, ray_address=ray)
                best = front(rows, spec)
                for r in rows:
                    r["pareto"] = r["point"] in best
                (tmp / "results.csv").write_text(results_csv(rows))
                write_duckdb(tmp / "results.csv", tmp / "sweep.duckdb")
                (tmp / "pareto.svg").write_text(pareto_svg(rows, spec, best))
        except InputError as exc:
            fail(str(exc))
        axes = [a.path for a in spec.axes]
        metrics = [o.metric for o in spec.objectives]
        t = Table(title=f"sweep {spec.name}: Pareto front ({len(best)} of {len(rows)} designs)")
        for c in ["point", *axes, "architecture", "tiers", "switches", *metrics]:
            t.add_column(c, justify="right")
        for r in rows:
            if r["pareto"]:
                t.add_row(*(str(r[c]) for c in ["point", *axes, "architecture", "tiers", "switches", *metrics]))
        console.print(t)
        infeasible = sum(r["status"] != "ok" for r in rows)
        if infeasible:
            console.print(f"{infeasible} designs infeasible (reasons in results.csv)")
        console.print(f"wrote results.csv, sweep.duckdb, pareto.svg to [bold]{out}[/]")
