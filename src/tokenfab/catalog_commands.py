"""`tokenfab catalog list|show|check` and `tokenfab schema`: what the catalog knows, and the
JSON Schemas of every file a user writes.

It lives beside the catalog package, not in it, so `tokenfab --help` does not load the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tokenfab.clikit import console, fail
from tokenfab.errors import InputError

catalog_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="What the catalog knows (shipped entries and your own files), and checks of your files.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.command("schema")(schema_cmd)


def _gb(x) -> str:
    return f"{x:g}"


def figures(kind: str, item) -> str:
    """The few numbers a person compares entries by."""
    if kind == "gpus":
        fp8 = f", FP8 {_gb(item.fp8_dense_tflops)}" if item.fp8_dense_tflops else ""
        return (
            f"BF16 {_gb(item.bf16_dense_tflops)}{fp8} TFLOPS, {_gb(item.hbm_gbytes)} GB @ {_gb(item.hbm_tbytes_per_s)} TB/s, "
            f"scale-up {_gb(item.nvlink_gbytes_per_s_per_direction)} GB/s/dir, {_gb(item.tdp_w)} W"
        )
    if kind == "nics":
        return f"{item.speed_gbps}G, {item.ports} port(s), {item.pcie or 'PCIe ?'}"
    if kind == "switches":
        sonic = item.sonic.platform if item.sonic else "no SONiC platform data"
        return f"{item.asic or '?'}, {item.ports} x {item.port_speed_gbps}G, {sonic}"
    if kind == "servers":
        dom = (
            f", scale-up domain {item.scaleup_domain_gpus} GPUs over {item.scaleup_domain_servers} servers"
            if item.scaleup_domain_servers > 1
            else ""
        )
        return f"{item.gpus} x {item.gpu_model}{dom}, {item.power_w / 1000:g} kW, {item.rack_units}U"
    if kind == "optics":
        return f"{item.kind}, {item.speed_gbps}G, reach {_gb(item.reach_m)} m"
    from tokenfab.workload.models import ModelSpec

    m = ModelSpec.model_validate(item)
    act = f", {m.active_params / 1e9:.1f}B active" if m.moe else ""
    return f"{m.params / 1e9:.1f}B params{act}, {m.layers} layers, hidden {m.hidden}, {m.attention.kind}"


@catalog_app.command("list")
def list_cmd(kind: str | None = typer.Argument(None, help="switches, nics, gpus, servers, optics or models")) -> None:
    """Every known entry: kind, name, key figures, and where it comes from (shipped or your file)."""
    from tokenfab.catalog import KINDS, load_catalog

    try:
        if kind is not None and kind not in KINDS:
            raise InputError(f"unknown kind {kind!r}; accepted: {', '.join(KINDS)}")
        cat = load_catalog()
    except InputError as exc:
        fail(str(exc))
    t = Table(title="catalog" + (f": {kind}" if kind else ""))
    for col in ("kind", "name", "figures", "source"):
        t.add_column(col, overflow="fold")
    for k in (kind,) if kind else KINDS:
        for name in sorted(getattr(cat, k)):
            t.add_row(k, name, figures(k, getattr(cat, k)[name]), cat.source_of(k, name))
    console.print(t)


@catalog_app.command("show")
def show_cmd(name: str = typer.Argument(..., help="an entry's name, e.g. H100 or llama3-70b")) -> None:
    """One entry's figures, each with its source (or marked as an estimate)."""
    from tokenfab.catalog import KINDS, SINGULAR, load_catalog

    try:
        cat = load_catalog()
        hits = [k for k in KINDS if name in getattr(cat, k)]
        if not hits:
            known = sorted({n for k in KINDS for n in getattr(cat, k)})
            raise InputError(f"no catalog entry named {name!r}; known: {', '.join(known)}")
    except InputError as exc:
        fail(str(exc))
    for k in hits:
        item = getattr(cat, k)[name]
        row = item if isinstance(item, dict) else item.model_dump(mode="json", exclude_unset=True)
        sources = row.get("sources", {})
        t = Table(title=f"{SINGULAR[k]} {name} ({cat.source_of(k, name)}): {figures(k, item)}")
        t.add_column("field")
        t.add_column("value", overflow="fold")
        t.add_column("source", overflow="fold")
        general = [k for k in sources if k not in row]  # e.g. `specs`, `shapes`: about several fields
        for field, value in row.items():
            if field == "sources":
                continue
            if field == "sonic" and isinstance(value, dict):
                value = {
                    "platform": value.get("platform"),
                    "hwsku": value.get("hwsku"),
                    "ports": len(value.get("port_map", [])),
                    "source": value.get("source", ""),
                }
            text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            src = sources.get(field, "")
            if not src and isinstance(value, (int, float)) and not isinstance(value, bool):
                src = f"see {', '.join(general)} below" if general else "(no source given)"
            t.add_row(field, text if len(text) < 400 else text[:400] + " ...", src)
        for key in general:
            t.add_row(f"{key} (several fields)", "", sources[key])
        console.print(t)


@catalog_app.command("check")
def check_cmd(files: list[Path] = typer.Argument(..., help="your catalog file(s) or folder(s)")) -> None:
    """Check your catalog file(s) against the schema of the shipped ones; every problem is named (exit 2)."""
    from tokenfab.catalog import SINGULAR, active_layers, load_catalog
    from tokenfab.catalog.files import read_layers

    try:
        layers = read_layers(files, origin="cli")
        cat = load_catalog(active_layers() + layers)  # also checks references between entries
    except InputError as exc:
        fail(str(exc))
    n = 0
    for layer in layers:
        for kind, rows in layer.entries.items():
            for row in rows:
                from tokenfab.catalog import entry_name

                name = entry_name(kind, row)
                over = " (overrides the shipped entry)" if name in _shipped(kind) else ""
                console.print(
                    f"  {layer.source}: {SINGULAR[kind]} {name}: {figures(kind, getattr(cat, kind)[name])}{over}", highlight=False
                )
                n += 1
    console.print(f"ok: {n} entr{'y' if n == 1 else 'ies'} in {len(layers)} file(s)")


def _shipped(kind: str) -> set[str]:
    from tokenfab.catalog import load_catalog

    return set(getattr(load_catalog(()), kind))


SCHEMAS = ("intent", "factory", "sweep", "catalog", "fabric")


def _file_model(name: str):
    """The pydantic model of one kind of user file (imported on demand: the CLI starts fast)."""
    if name == "intent":
        from tokenfab.intent import Intent

        return Intent
    if name == "factory":
        from tokenfab.factory.spec import FactorySpec

        return FactorySpec
    if name == "sweep":
        from tokenfab.sweep.spec import SweepSpec

        return SweepSpec
    if name == "catalog":
        from tokenfab.catalog import CatalogFile

        return CatalogFile
    raise InputError(f"unknown schema {name!r}; accepted: {', '.join(SCHEMAS)}")


def schema_of(name: str) -> dict:
    """The JSON Schema of one kind of file."""
    if name == "fabric":
        from tokenfab.design.model import json_schema

        return json_schema()
    schema = _file_model(name).model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"tokenfab.{name}/1", **schema}


def schema_text(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def schema_cmd(
    name: str = typer.Argument("fabric", help="intent, factory, sweep, catalog or fabric"),
    out: Path | None = typer.Option(None, "-o", "--out", help="write every schema as NAME.schema.json into this folder"),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
) -> None:
    """Print the JSON Schema of a file tokenfab reads (editors use it to complete and check your YAML)."""
    try:
        if out is not None:
            from tokenfab.outputs import output_dir

            texts = {n: schema_text(n) for n in SCHEMAS}
            with output_dir(out, force=force) as tmp:
                for n, text in texts.items():
                    (tmp / f"{n}.schema.json").write_text(text)
            console.print(f"wrote {len(SCHEMAS)} schemas to [bold]{out}[/]")
            return
        text = schema_text(name)
    except InputError as exc:
        fail(str(exc))
    print(text, end="")
