"""`tokenfab factory ...`: run a factory description, estimate one job, list the model library."""

from __future__ import annotations

from pathlib import Path

import typer

from tokenfab.clikit import console, fail, show
from tokenfab.errors import InputError

factory_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="What the AI factory produces: workloads, scheduling, tokens, cost.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(factory_app, name="factory")


@factory_app.command("run")
def run_cmd(
    factory: Path = typer.Argument(..., help="factory description YAML (names its fabric: an intent or a plan folder)"),
    out: Path = typer.Option(Path("factory-out"), "-o", "--out", help="output folder"),
    force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
    fabric_path: Path | None = typer.Option(
        None,
        "--fabric",
        help="run on this plan folder or intent instead of the description's fabric (e.g. the plan you configured)",
    ),
) -> None:
    """Simulate the factory over its window, data in to tokens out: the ledger, GPU time by cause, SLOs, cost;
    `compare:` variants side by side with what each costs."""
    from rich.progress import Progress

    import tokenfab
    from tokenfab.outputs import written

    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("loading", total=None)

            def tick(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=f"simulating {name}")

            runs = tokenfab.run_factory(factory, fabric=fabric_path, out=out, force=force, progress=tick)
    except InputError as exc:
        fail(f"--{exc}" if exc.field == "fabric" else str(exc))  # the API's `fabric` is this command's --fabric
    _print(runs)
    console.print(f"wrote {len(written(out))} files to [bold]{out}[/]")


def _print(runs) -> None:
    from rich.table import Table

    from tokenfab.factory.report import comparison

    base_run, base = runs[0]
    t = base["totals"]
    tab = Table(
        title=f"{base['factory']} on {base['fabric']}: {t['gpus']:,} GPUs, {t['window_h']:g} h "
        f"({base['comm_model']} network model, {base['scheduler']})"
    )
    tab.add_column("KPI")
    tab.add_column("value", justify="right")
    p = base["power"]
    rows = [
        ("jobs done / running / queued", f"{t['jobs_done']} / {t['jobs_running_at_end']} / {t['jobs_queued_at_end']}"),
        ("tokens (training + output)", f"{t['tokens']:,.0f}"),
        ("  training / output / input", f"{t['training_tokens']:,.0f} / {t['output_tokens']:,.0f} / {t['input_tokens']:,.0f}"),
        ("GPU allocation / utilisation", f"{t['gpu_allocation_pct']:.1f}% / {t['gpu_utilization_pct']:.1f}%"),
        (
            "GPU time waiting on the network",
            f"{t['network_idle_gpu_h']:,.1f} GPU-h ({t['network_idle_pct_of_allocated'] or 0:.2f}% of allocated)",
        ),
        (
            "power GPUs / servers / switches / optics / NICs",
            f"{p['gpus_w'] / 1e3:,.1f} / {p['servers_overhead_w'] / 1e3:,.1f} / {p['switches_w'] / 1e3:,.1f} / "
            f"{p['optics_w'] / 1e3:,.1f} / {p['nics_w'] / 1e3:,.1f} kW",
        ),
        ("IT power, PUE, facility", f"{p['it_w'] / 1e3:,.1f} kW x {p['pue']} = {p['facility_w'] / 1e3:,.1f} kW"),
        ("energy (facility)", f"{t['energy_facility_kwh']:,.0f} kWh"),
        ("$/GPU-hour", f"{t['usd_per_gpu_hour']:.3f}"),
        ("cost of the window", f"${t['cost_usd']:,.0f}"),
        ("$/M tokens", f"{t['usd_per_mtoken']:.4f}" if t["usd_per_mtoken"] is not None else "-"),
        ("tokens/kWh, tokens/s per MW", f"{t['tokens_per_kwh'] or 0:,.0f}, {t['tokens_per_s_per_mw'] or 0:,.0f}"),
    ]
    for k, v in rows:
        tab.add_row(k, v)
    show(tab)
    jt = Table(title="largest jobs by GPU-hours (every job in jobs.csv)")
    for col in ("job", "GPUs", "SUs", "step/TPOT", "MFU", "tok/s/GPU", "slowdown", "net idle"):
        jt.add_column(col, justify="left" if col == "job" else "right")
    top = sorted(base["jobs"], key=lambda j: (-(j["gpu_h"] or 0), j["name"]))[:15]
    for j in top:
        if j["kind"] == "training":
            st = f"{j['step_s']:.3g} s" if j["step_s"] else "-"
        else:
            st = f"{j['tpot_s'] * 1e3:.1f} ms" if j["tpot_s"] else "-"
        jt.add_row(
            j["name"],
            str(j["gpus"]),
            str(j["scalable_units"]),
            st,
            f"{j['mfu']:.1%}" if j["mfu"] else "-",
            f"{j['tokens_per_s_per_gpu']:,.0f}" if j["tokens_per_s_per_gpu"] else "-",
            f"{j['slowdown']:.3f}" if j["slowdown"] else "-",
            f"{j['network_idle_pct']:.1f}%" if j["network_idle_pct"] is not None else "-",
        )
    show(jt, "job")
    for tc in sorted(base["training_cost"], key=lambda r: (-r["gpu_hours"], r["job"]))[:3]:
        console.print(
            f"training cost {tc['job']}: 6 N D / (peak x MFU x goodput) = 6 x {tc['params_N'] / 1e9:.1f}B x "
            f"{tc['tokens_D']:.3g} / ({tc['peak_tflops']:.0f} TFLOPS x {tc['mfu']:.3f} x {tc['goodput']}) = "
            f"{tc['gpu_hours']:,.0f} GPU-h = ${tc['cost_usd']:,.0f}",
            highlight=False,
        )
    if base_run.spec.layered:
        _print_ledger(base)
    if len(runs) > 1:
        ct = Table(title="variants side by side")
        for col in ("variant", "tokens", "change", "vs", "util", "net idle GPU-h", "slowdown mean/worst", "$/Mtok"):
            ct.add_column(col, justify="left" if col in ("variant", "vs") else "right")
        for r in comparison([s for _, s in runs]):
            ct.add_row(
                r["variant"],
                f"{r['tokens']:.4g}",
                f"{r['tokens_change_pct']:+.2f}%",
                r["against"] or "-",
                f"{r['gpu_utilization_pct']:.1f}%",
                f"{r['network_idle_gpu_h']:,.1f}",
                f"{r['mean_slowdown'] or 1:.4f}/{r['worst_slowdown'] or 1:.3f}",
                f"{r['usd_per_mtoken_total']:.4f}" if r["usd_per_mtoken_total"] else "-",
            )
        show(ct, "variant")
        if base_run.spec.layered:
            _print_network_cost([s for _, s in runs])


def _fmt(x, unit: str = "") -> str:
    from tokenfab.factory.report import _num

    return "-" if x is None else f"{_num(x)}{unit}"


def _print_ledger(s: dict) -> None:
    from rich.table import Table

    from tokenfab.factory.report import _bytes

    L = s["ledger"]
    t = s["totals"]
    tab = Table(title="data-to-tokens ledger")
    tab.add_column("layer")
    tab.add_column("what", justify="right")
    if "data" in L:
        b = L["data"]["balance"]
        tab.add_row(
            "data in",
            f"{_bytes(b['ingested_bytes'])} ingested = {_bytes(b['stored_bytes'])} stored + "
            f"{_bytes(b['filtered_bytes'])} filtered + {_bytes(b['dropped_bytes'])} dropped + "
            f"{_bytes(b['pending_bytes'])} pending",
        )
        for p in L["data"]["pipelines"]:
            why = "; ".join(f"{k} {_bytes(v)}" for k, v in p["dropped_bytes"].items()) or "nothing dropped"
            tab.add_row(f"  {p['pipeline']}", f"-> {p['dataset']} on {p['tier']}: {_bytes(p['stored_bytes'])} ({why})")
        tab.add_row("datasets", ", ".join(f"{d['dataset']} {_bytes(d['bytes'])} v{d['versions']}" for d in L["data"]["datasets"]))
    if "storage" in L:
        f = L["storage"]["fabric"]
        tab.add_row(
            "storage fabric",
            f"{f['capacity_gbytes_per_s']:,.0f} GB/s, mean {f['mean_utilization_pct']:.2f}% used, "
            f"peak {f['peak_utilization_pct']:.1f}%",
        )
    tr = [j for j in L["training"]]
    if tr:
        tab.add_row(
            "training",
            f"{t['training_tokens']:,.0f} tokens in {len(tr)} runs, {sum(j['checkpoints'] for j in tr)} "
            f"checkpoints, {sum(j['interruptions'] for j in tr)} interruptions, "
            f"{sum(j['lost_tokens'] or 0 for j in tr):,.0f} tokens lost",
        )
    if L["models"]:
        tab.add_row(
            "models", f"{len(L['models'])} registered, {sum(1 for m in L['models'] if m['deployed_h'] is not None)} deployed"
        )
    for v in L["inference"]:
        tab.add_row(
            f"service {v['service']}",
            f"{v['tenant']}: {_fmt(v['requests_served'])} requests, "
            f"{_fmt(v['output_tokens'])} output tokens, SLO "
            f"{v['slo_attainment_pct'] if v['slo_attainment_pct'] is not None else 0:.2f}%, "
            f"TTFT {v['mean_ttft_s'] or 0:.3f} s, TPOT {(v['mean_tpot_s'] or 0) * 1e3:.1f} ms, "
            f"replicas {v['replicas_min']}-{v['replicas_max']}",
        )
    g = L["gpu_time"]
    tab.add_row("GPU time", ", ".join(f"{k.replace('_', ' ')} {v['pct']:.1f}%" for k, v in g.items() if v["gpu_h"]))
    c = L["cost"]
    tab.add_row(
        "cost",
        f"${c['total_usd']:,.0f} (GPUs + fabric ${c['gpus_and_fabric_usd']:,.0f}, CPU pools "
        f"${c['cpu_pools_usd']:,.0f}, storage ${c['storage_usd']:,.0f})",
    )
    show(tab)


def _print_network_cost(summaries: list[dict]) -> None:
    from rich.table import Table

    from tokenfab.factory.report import network_cost, usd_text

    for r in network_cost(summaries):
        tab = Table(title=f"what {r['variant']} costs against {r['against']} (same arrivals, same failures)")
        tab.add_column("")
        tab.add_column("change", justify="right")
        tab.add_row("tokens", f"{r['tokens_change']:+,.0f} ({r['tokens_change_pct'] or 0:+.3f}%)")
        tab.add_row("  training tokens", f"{r['training_tokens_change']:+,.0f}")
        tab.add_row(
            "  inference output tokens",
            f"{r['inference_output_tokens_change']:+,.0f} ({r['inference_output_tokens_change_pct'] or 0:+.3f}%)",
        )
        if r["slo_attainment_pct"] is not None:
            tab.add_row("SLO attainment (all requests)", f"{r['slo_attainment_pct']:.2f}% ({r['slo_points_change']:+.2f} pts)")
        for v in r["services"]:
            tab.add_row(
                f"  {v['service']}",
                f"SLO {v['base_attainment_pct'] or 0:.2f}% -> {v['attainment_pct'] or 0:.2f}%, "
                f"TTFT {v['base_ttft_s'] or 0:.3f} -> {v['ttft_s'] or 0:.3f} s, "
                f"TPOT {v['base_tpot_ms'] or 0:.1f} -> {v['tpot_ms'] or 0:.1f} ms, "
                f"tokens {v['output_tokens_change_pct'] or 0:+.2f}%",
            )
        tab.add_row("requests abandoned", f"{r['requests_abandoned_change']:+,.0f}")
        tab.add_row(
            "GPU time waiting on the network", f"{r['network_gpu_h_change']:+,.1f} GPU-h = {usd_text(r['network_idle_usd'])}"
        )
        tab.add_row("tokens not produced, at what the base paid per token", usd_text(r["lost_tokens_usd"]))
        tab.add_row("$/M tokens", f"{r['usd_per_mtoken']}")
        show(tab)


@factory_app.command("estimate")
def estimate_cmd(
    factory: Path = typer.Argument(..., help="factory description YAML"),
    job: str | None = typer.Option(None, "--job", help="only this job (default: every job)"),
) -> None:
    """Each job alone on the empty fabric: step time, MFU or TPOT/TTFT, and every assumption behind it."""
    from tokenfab.api import load_factory
    from tokenfab.factory.estimate import estimate_alone

    try:
        spec, _raw, fabric = load_factory(factory)
        results = estimate_alone(spec, fabric, job)
    except InputError as exc:
        fail(str(exc))
    for name, kind, est, head in results:
        console.rule(f"{name} ({kind})")
        console.print(head, highlight=False)
        for line in est.assumptions():
            console.print(f"  - {line}", highlight=False)
        for w in est.warnings:
            console.print(f"  [yellow]warning:[/] {w}", highlight=False)


@factory_app.command("models")
def models_cmd() -> None:
    """The public model library: parameters, active parameters, KV bytes per token."""
    from rich.table import Table

    from tokenfab.workload.models import library

    t = Table(title="model library")
    for col in ("name", "params", "active", "layers", "hidden", "attention", "experts", "KV B/token (BF16)"):
        t.add_column(col, justify="left" if col in ("name", "attention") else "right")
    for m in library().values():
        t.add_row(
            m.name,
            f"{m.params / 1e9:.1f}B",
            f"{m.active_params / 1e9:.1f}B",
            str(m.layers),
            str(m.hidden),
            f"{m.attention.kind} {m.heads}h",
            f"{m.moe.experts}+{m.moe.shared_experts} top-{m.moe.top_k}" if m.moe else "-",
            f"{m.kv_bytes_per_token():,.0f}",
        )
    show(t, "name")
