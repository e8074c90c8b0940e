"""CLI verbs of the configure stage: `tokenfab configure` and `tokenfab validate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tokenfab.clikit import console, fail


def register(app: typer.Typer) -> None:
    app.command("configure")(configure_cmd)
    app.command("validate")(validate_cmd)


def configure_cmd(
    plan: Path = typer.Argument(..., help="plan folder (or its fabric.json) or intent YAML"),
    out: Path | None = typer.Option(
        None, "-o", "--out", help="output folder (default: the plan folder itself, or ./out for an intent)"
    ),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    ztp_url: str | None = typer.Option(
        None, "--ztp-url", help="URL the output folder is served at for ZTP (default http://<mgmt .2>/<fabric name>)"
    ),
) -> None:
    """Write SONiC config_db.json + FRR config per switch, host NIC/RoCE settings, a ZTP bundle and exports."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    import tokenfab
    from tokenfab.api import configure_count, plan_dir_of
    from tokenfab.errors import InputError

    try:
        with console.status("loading the plan"):
            fabric = tokenfab.load_fabric(plan)
        plan_dir = plan_dir_of(plan)
        out = out or plan_dir or Path("out")
        with Progress(
            TextColumn("configure"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("", total=configure_count(fabric))
            written = tokenfab.configure(
                fabric,
                out,
                force=force,
                ztp_url=ztp_url,
                add_to_plan=plan_dir is not None and out.resolve() == plan_dir.resolve(),
                progress=lambda name: bar.update(task, advance=1, description=name),
            )
    except InputError as exc:
        fail(str(exc))
    switches = sum(1 for w in written if w.startswith("configs/") and w.endswith("config_db.json"))
    servers = sum(1 for w in written if w.endswith("netplan.yaml"))
    console.print(
        f"wrote {len(written)} files to [bold]{out}[/]: {switches} switch configs (config_db.json + frr.conf), "
        f"{servers} host configs, ZTP bundle, exports. Check them with: tokenfab validate {out}"
    )
    console.print(_lab_line(fabric, written), highlight=False)


def _lab_line(fabric, written: list[str]) -> str:
    """One line on the containerlab lab: mapped onto the image's ports, or why not (with the numbers)."""
    from tokenfab.configure.config_db import Context
    from tokenfab.configure.lab import refusal

    if any(w.startswith("export/lab/") for w in written):
        return "containerlab lab: every switch mapped onto the sonic-vs image's ports (export/lab/); BGP runs over its links"
    return f"containerlab lab: switch ports not mapped onto the sonic-vs image's: {refusal(Context(fabric))}"


def validate_cmd(
    folder: Path = typer.Argument(..., help="output folder of `tokenfab configure`"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    frr: bool = typer.Option(True, "--frr/--no-frr", help="also parse every frr.conf with FRR's vtysh, when installed"),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="worker processes (default: one per core)"),
) -> None:
    """Check every config_db.json against SONiC's YANG models and the fabric-wide rules. Exit 0 clean, 1 not."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    import tokenfab
    from tokenfab.configure.validate import render
    from tokenfab.errors import InputError

    try:
        with Progress(
            TextColumn("validate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("", total=None)

            def tick(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=name)

            report = tokenfab.validate(folder, progress=tick, check_frr=frr, workers=jobs)
    except InputError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        render(console, report)
    raise typer.Exit(0 if report.ok else 1)
