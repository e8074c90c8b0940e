"""The `tokenfab` command: parses arguments, calls the library, renders with rich.

Bad input exits with code 2 and a one-paragraph message, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table as RichTable

from tokenfab.clikit import console, err, fail, show, show_deprecations
from tokenfab.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="tokenfab: plan, configure, prove and simulate AI-factory fabrics on open Ethernet.",
)


@app.command("plan")
def plan_cmd(
    intent: Path = typer.Argument(..., help="intent YAML"),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="output folder"),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    diff: Path | None = typer.Option(None, "--diff", help="compare with an earlier plan folder"),
    explain: bool = typer.Option(False, "--explain", help="print every candidate design the search weighed and why each lost"),
) -> None:
    """Design the fabric: fabric.json, BOM, cabling, IP plan and a topology diagram."""
    import tokenfab

    try:
        it = tokenfab.load_intent(intent)
        old = tokenfab.load_fabric(diff) if diff is not None else None
        with console.status("planning"):
            fabric = tokenfab.plan(it, out=out, force=force, old=old)
    except InputError as exc:
        fail(str(exc))
    if explain:
        _print_candidates(it)
    _print_summary(fabric)
    from tokenfab.report import plan_file_names

    written = plan_file_names(old is not None)
    console.print(f"wrote {len(written)} files to [bold]{out}[/]: {', '.join(written)}")
    if old is not None:
        from tokenfab.report.diff import diff_fabrics, render_diff

        render_diff(console, diff_fabrics(old, fabric))


def _print_candidates(intent) -> None:
    from tokenfab.catalog import load_catalog
    from tokenfab.design.search import search

    result = search(intent, load_catalog())
    t = RichTable(title=f"design search: {len(result.candidates)} candidates, best by {result.objective} first")
    for c, just in (
        ("#", "right"),
        ("design", "left"),
        ("switches", "right"),
        ("cost", "right"),
        ("power", "right"),
        ("verdict", "left"),
    ):
        t.add_column(c, justify=just, overflow="fold")
    for i, (c, row) in enumerate(zip(result.candidates, result.rows()), start=1):
        ok = row["switches"] != ""
        t.add_row(
            str(i),
            c.choice.short(),
            f"{row['switches']:,}" if ok else "",
            f"${row['cost_usd']:,.0f}" if ok else "",
            f"{row['power_w'] / 1000:,.1f} kW" if ok else "",
            row["verdict"],
        )
    console.print(t, highlight=False)


def _print_summary(fabric) -> None:
    from tokenfab.report.tables import totals

    d = fabric.design
    t = RichTable(title=f"{fabric.intent.name}: {d.gpus:,} x {d.gpu_model}, {d.architecture}, {d.tiers} tier(s)")
    t.add_column("item")
    t.add_column("value", justify="right")
    rows = [
        ("servers", d.servers),
        ("rails x planes", f"{d.rails} x {d.planes}"),
        ("NIC link", f"{d.link_speed_gbps}G"),
        ("servers per scalable unit", d.servers_per_su),
        ("scalable units", d.scalable_units),
        ("pods", d.pods or "-"),
        ("leaves", d.leaves),
        ("spines", d.spines),
        ("cores", d.cores),
    ]
    for name, tier in d.tiers_detail.items():
        up = f", {tier.up_ports} x {tier.up_speed_gbps}G up, {tier.oversubscription}:1" if tier.up_ports else ""
        rows.append((f"{name} ({tier.model})", f"{tier.down_ports} x {tier.down_speed_gbps}G down{up}"))
    tot = totals(fabric)
    rows += [
        ("links", f"{len(fabric.links):,}"),
        ("BGP sessions", f"{fabric.expectations.bgp_sessions:,}"),
        ("cost (estimate)", f"${tot['price_usd']:,.0f}"),
        ("power", f"{tot['power_w'] / 1000:,.1f} kW"),
    ]
    for name, value in rows:
        t.add_row(name, str(value))
    show(t)
    for r in d.reasons:
        console.print(f"  - {r}", highlight=False)


# Each later stage adds its verbs from `tokenfab/<stage>/commands.py: register(app)`; the modules
# import only typer at the top, so `tokenfab --help` stays fast. `schema` comes with the catalog's verbs.
from tokenfab.catalog_commands import register as _catalog  # noqa: E402
from tokenfab.configure.commands import register as _configure  # noqa: E402
from tokenfab.doctor.commands import register as _doctor  # noqa: E402
from tokenfab.factory.commands import register as _factory  # noqa: E402
from tokenfab.operate.commands import register as _operate  # noqa: E402
from tokenfab.server.commands import register as _server  # noqa: E402
from tokenfab.sim.commands import register as _sim  # noqa: E402
from tokenfab.sweep.commands import register as _sweep  # noqa: E402
from tokenfab.twin.commands import register as _twin  # noqa: E402

for _register in (_catalog, _configure, _twin, _sim, _factory, _sweep, _operate, _server, _doctor):
    _register(app)


CATALOG_HELP = (
    "your own catalog file or folder (GPUs, NICs, switches, servers, optics, models); "
    "repeat for several; overrides shipped entries of the same name"
)


def _with_catalog(fn):
    """`fn` as a verb that also takes --catalog: the files are read (every problem reported at once)
    and are the catalog in force while the verb runs, on top of the user-wide folder."""
    import functools
    import inspect

    sig = inspect.signature(fn, eval_str=True)
    if "catalog" in sig.parameters:
        return fn

    @functools.wraps(fn)
    def verb(*args, catalog: list[Path] | None = None, **kwargs):
        from tokenfab.catalog import active_layers, use_catalog
        from tokenfab.catalog.files import read_layers

        try:
            layers = active_layers() + (read_layers(catalog, origin="cli") if catalog else ())
        except InputError as exc:
            fail(str(exc))
        with use_catalog(layers):
            return fn(*args, **kwargs)

    option = inspect.Parameter(
        "catalog",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=list[Path] | None,
        default=typer.Option(None, "--catalog", metavar="FILE|DIR", help=CATALOG_HELP),
    )
    verb.__signature__ = sig.replace(parameters=[*sig.parameters.values(), option])
    verb.__annotations__ = {**{k: v.annotation for k, v in sig.parameters.items()}, "catalog": list[Path] | None}
    return verb


def _add_catalog_option(typer_app: typer.Typer) -> None:
    for cmd in typer_app.registered_commands:
        cmd.callback = _with_catalog(cmd.callback)
    for group in typer_app.registered_groups:
        _add_catalog_option(group.typer_instance)


_add_catalog_option(app)


def main() -> None:
    show_deprecations()
    try:
        app()
    except InputError as exc:  # raised outside a command's own handler
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
