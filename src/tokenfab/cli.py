"""The `tokenfab` command: parses arguments, calls the library, renders with rich.

Bad input exits with code 2 and a one-paragraph message, never a traceback."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from tokenfab.clikit import console, err, fail
from tokenfab.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="tokenfab: plan, configure, prove and simulate AI-factory fabrics on open Ethernet.")


@app.command("plan")
def plan_cmd(
    intent: Path = typer.Argument(..., help="intent YAML"),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="output folder"),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    diff: Optional[Path] = typer.Option(None, "--diff", help="compare with an earlier plan folder"),
) -> None:
    """Design the fabric: fabric.json, BOM, cabling, IP plan and a topology diagram."""
    from tokenfab import load_intent, plan
    from tokenfab.report import write_plan

    try:
        it = load_intent(intent)
        with console.status("planning"):
            fabric = plan(it)
        old = None
        if diff is not None:
            from tokenfab.design.model import Fabric
            old = Fabric.load(diff)
        written = write_plan(fabric, out, force=force, old=old)
    except InputError as exc:
        fail(str(exc))
    _print_summary(fabric)
    console.print(f"wrote {len(written)} files to [bold]{out}[/]: {', '.join(written)}")
    if old is not None:
        from tokenfab.report.diff import diff_fabrics, render_diff
        render_diff(console, diff_fabrics(old, fabric))


def _print_summary(fabric) -> None:
    from tokenfab.report.tables import totals

    d = fabric.design
    t = RichTable(title=f"{fabric.intent.name}: {d['gpus']:,} x {d['gpu_model']}, {d['architecture']}, {d['tiers']} tier(s)")
    t.add_column("item")
    t.add_column("value", justify="right")
    rows = [("servers", d["servers"]), ("rails x planes", f"{d['rails']} x {d['planes']}"),
            ("NIC link", f"{d['link_speed_gbps']}G"), ("servers per scalable unit", d["servers_per_su"]),
            ("scalable units", d["scalable_units"]), ("pods", d["pods"] or "-"),
            ("leaves", d["leaves"]), ("spines", d["spines"]), ("cores", d["cores"])]
    for name, tier in d["tiers_detail"].items():
        up = (f", {tier['up_ports']} x {tier['up_speed_gbps']}G up, {tier['oversubscription']}:1"
              if tier["up_ports"] else "")
        rows.append((f"{name} ({tier['model']})", f"{tier['down_ports']} x {tier['down_speed_gbps']}G down{up}"))
    tot = totals(fabric)
    rows += [("links", f"{len(fabric.links):,}"), ("BGP sessions", f"{fabric.expectations['bgp_sessions']:,}"),
             ("cost (estimate)", f"${tot['price_usd']:,.0f}"), ("power", f"{tot['power_w'] / 1000:,.1f} kW")]
    for name, value in rows:
        t.add_row(name, str(value))
    console.print(t)
    for r in d["reasons"]:
        console.print(f"  - {r}", highlight=False)


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of fabric.json."""
    from tokenfab.design.model import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))


# Each later stage adds its verbs from `tokenfab/<stage>/commands.py: register(app)`.
STAGES = ("configure", "twin", "sim", "factory", "sweep", "server", "doctor")
for _stage in STAGES:
    try:
        _mod = importlib.import_module(f"tokenfab.{_stage}.commands")
    except ModuleNotFoundError as _exc:
        if _exc.name not in (f"tokenfab.{_stage}", f"tokenfab.{_stage}.commands"):
            raise
        continue
    _mod.register(app)


def main() -> None:
    try:
        app()
    except InputError as exc:  # raised outside a command's own handler
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
