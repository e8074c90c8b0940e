"""Files `tokenfab factory run` writes, and the comparison of variants.

out/summary.json        every KPI of the base run and of each variant (sorted keys)
out/comparison.csv      the headline KPIs side by side, one row per variant, with deltas
out/jobs.csv            per job: placement size, steps, tokens, step time alone and shared,
                        slowdown, MFU / TTFT / TPOT, GPU-hours, network idle, cost, contended links
out/tenants.csv         per tenant: GPU-hours, tokens, network idle, cost, $/M tokens
out/timeline.csv        per epoch: allocated / computing / network-idle GPUs, power, tokens/s
out/utilization.svg     the timeline plotted
out/placement.csv       each job's nodes, the smallest domain holding them, the Kueue annotation
out/assumptions.txt     model and cost assumptions
out/ledger.json         the data-to-tokens ledger (ledger.py): data, storage, training, models,
                        inference, tokens per tenant and service, GPU time by cause, cost
out/gpu-time.csv        GPU-hours by cause; gpu-time.svg over time
out/services.csv, pipelines.csv, datasets.csv, storage.csv, training.csv, events.csv
out/timeline.svg        jobs, lifecycle stages and replicas per tenant; failures, faults, deployments
out/data-flow.svg, services.svg   per pipeline and per service over the window
out/report.html         all of it on one page, plots inline (matplotlib SVG)
out/network-cost.csv    each variant against the base (or the variant it names in `against`): tokens, SLOs, dollars
out/topology.conf       Slurm tree topology of the fabric
out/kubernetes/label-nodes.sh, out/kubernetes/kueue-topology.yaml
out/compare/<variant>/  the same per-run files for each `compare` variant
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from tokenfab.factory import export, plot
from tokenfab.factory.accounting import Cause
from tokenfab.factory.engine import FactoryRun
from tokenfab.factory.plot import utilization_svg

HEADLINE = (
    "tokens",
    "training_tokens",
    "output_tokens",
    "tokens_per_s",
    "gpu_allocation_pct",
    "gpu_utilization_pct",
    "network_idle_pct_of_allocated",
    "network_idle_gpu_h",
    "jobs_done",
    "energy_facility_kwh",
    "usd_per_gpu_hour",
    "cost_usd",
    "usd_per_mtoken",
    "tokens_per_kwh",
    "tokens_per_s_per_mw",
    "inference_output_tokens",
    "requests_served",
    "requests_abandoned",
    "slo_attainment_pct",
    "gpu_h_computing",
    "gpu_h_network",
    "gpu_h_storage",
    "gpu_h_pipeline_starvation",
    "gpu_h_failures",
    "gpu_h_queueing",
    "gpu_h_low_demand",
    "cost_total_usd",
    "usd_per_mtoken_total",
)


def _csv(rows: list[dict], header: list[str] | None = None) -> str:
    buf = io.StringIO()
    header = header or (list(rows[0]) if rows else [])
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    return buf.getvalue()


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "variant"


def isolation(summary: dict) -> dict:
    """Performance isolation: how much sharing the fabric slowed jobs (1.0 = as if alone)."""
    s = [j["slowdown"] for j in summary["jobs"] if j["slowdown"] is not None]
    return {
        "mean_slowdown": round(sum(s) / len(s), 5) if s else None,
        "worst_slowdown": max(s) if s else None,
        "jobs_slowed_over_1pct": sum(x > 1.01 for x in s),
    }


def run_files(run: FactoryRun, summary: dict) -> dict[str, str]:
    # GPU-equivalents by cause, in the ledger's names (computing_gpus, network_gpus, ...)
    ep = [
        {
            "t0_h": round(e.t0_s / 3600, 5),
            "t1_h": round(e.t1_s / 3600, 5),
            "allocated_gpus": e.allocated_gpus,
            "facility_power_w": round(e.power_w, 1),
            "running_jobs": e.running,
            "queued_jobs": e.queued,
            "tokens_per_s": round(e.tokens_per_s, 2),
            **{f"{c.label}_gpus": round(e.gpus(c), 3) for c in Cause},
        }
        for e in run.epochs
    ]
    files = {
        "jobs.csv": _csv(summary["jobs"]),
        "tenants.csv": _csv(summary["tenants"]),
        "timeline.csv": _csv(ep),
        "utilization.svg": utilization_svg(run),
        "placement.csv": export.placement_csv(run.cluster, run.jobs),
        "assumptions.txt": "\n".join(summary["assumptions"] + [summary["totals"]["cost_model"]]) + "\n",
    }
    files.update(layer_files(run, summary))
    return files


def _flat(rows: list[dict]) -> list[dict]:
    """Nested dicts (bytes by reason, ...) as 'key: value; ...' text for CSV."""
    out = []
    for r in rows:
        out.append(
            {
                k: ("; ".join(f"{a}: {b}" for a, b in v.items()) if isinstance(v, dict) else (None if isinstance(v, list) else v))
                for k, v in r.items()
            }
        )
    return out


def layer_files(run: FactoryRun, summary: dict) -> dict[str, str]:
    led = summary["ledger"]
    files = {
        "ledger.json": json.dumps(led, indent=1, sort_keys=True, allow_nan=False) + "\n",
        "gpu-time.csv": _csv([{"cause": k, **v} for k, v in led["gpu_time"].items()]),
        "training.csv": _csv(_flat(led["training"])) if led["training"] else "",
        "events.csv": _csv(led["events"], ["t_h", "kind", "text"]),
        "gpu-time.svg": plot.gpu_time_svg(run),
        "timeline.svg": plot.timeline_svg(run),
    }
    plots = {"gpu_time": files["gpu-time.svg"], "timeline": files["timeline.svg"]}
    if "data" in led:
        files["pipelines.csv"] = _csv(_flat(led["data"]["pipelines"]))
        files["datasets.csv"] = _csv(_flat(led["data"]["datasets"]))
        if run.data.pipelines:  # datasets already in storage alone have no flow to draw
            files["data-flow.svg"] = plots["data_flow"] = plot.data_flow_svg(run)
    if "storage" in led:
        files["storage.csv"] = _csv(_flat(led["storage"]["tiers"]))
    if led["inference"]:
        files["services.csv"] = _csv(_flat(led["inference"]))
        files["services.svg"] = plots["services"] = plot.services_svg(run)
    run.plots = plots
    files = {k: v for k, v in files.items() if v}
    return files


def _usd(x: float) -> float:
    """Dollars to the cent, never -0.0 (which prints as "$-0")."""
    return round(x, 2) + 0.0


def usd_text(x: float) -> str:
    """A signed dollar amount as people write it: $1,234, -$56, $0."""
    x = round(x) + 0.0
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def network_cost(summaries: list[dict]) -> list[dict]:
    """What each variant costs against the base: tokens, SLOs, and dollars (the GPU time that
    waited on the network, and the tokens not produced, each valued at what the base paid per
    token of that kind: per service for inference, per training token for training)."""
    rows = []
    for s in summaries[1:]:
        base = reference(summaries, s)
        bt = base["totals"]
        bsvc = {v["service"]: v for v in base["ledger"]["inference"]}
        bjobs = {j["name"]: j for j in base["jobs"] if j["kind"] == "inference" and j["stage"] == "job"}
        t = s["totals"]

        def d(k, t=t, bt=bt):  # bound per variant
            return (t.get(k) or 0.0) - (bt.get(k) or 0.0)

        def pct(k, bt=bt):
            return round(100 * d(k) / bt[k], 4) if bt.get(k) else None

        lost_usd = max(-d("training_tokens"), 0.0) * (base["ledger"].get("training_usd_per_mtoken") or 0.0) / 1e6
        for j in s["jobs"]:  # inference jobs outside services: at what the base job paid per token
            b = bjobs.get(j["name"])
            if b is not None and b["tokens"] and b["cost_usd"]:
                lost_usd += max((b["tokens"] or 0) - (j["tokens"] or 0), 0.0) * b["cost_usd"] / b["tokens"]
        svcs = []
        for v in s["ledger"]["inference"]:
            b = bsvc.get(v["service"])
            if b is None:
                continue
            ch = (v["output_tokens"] or 0) - (b["output_tokens"] or 0)
            lost_usd += max(-ch, 0.0) * (b.get("usd_per_moutput_token") or 0.0) / 1e6
            svcs.append(
                {
                    "service": v["service"],
                    "output_tokens_change": ch,
                    "output_tokens_change_pct": round(100 * ch / b["output_tokens"], 4) if b["output_tokens"] else None,
                    "base_attainment_pct": b["slo_attainment_pct"],
                    "attainment_pct": v["slo_attainment_pct"],
                    "base_ttft_s": b["mean_ttft_s"],
                    "ttft_s": v["mean_ttft_s"],
                    "base_tpot_ms": round(b["mean_tpot_s"] * 1e3, 3) if b["mean_tpot_s"] is not None else None,
                    "tpot_ms": round(v["mean_tpot_s"] * 1e3, 3) if v["mean_tpot_s"] is not None else None,
                }
            )
        net_h = d("gpu_h_network")
        rows.append(
            {
                "variant": s["factory"],
                "against": base["factory"],
                "tokens_change": round(d("tokens"), 0),
                "tokens_change_pct": pct("tokens"),
                "training_tokens_change": round(d("training_tokens"), 0),
                "inference_output_tokens_change": round(d("output_tokens"), 0),
                "inference_output_tokens_change_pct": pct("output_tokens"),
                "slo_attainment_pct": t.get("slo_attainment_pct"),
                "slo_points_change": round(d("slo_attainment_pct"), 4) if t.get("slo_attainment_pct") is not None else None,
                "requests_abandoned_change": round(d("requests_abandoned"), 1),
                "network_gpu_h_change": round(net_h, 3),
                "network_idle_usd": _usd(net_h * bt["usd_per_gpu_hour"]),
                "lost_tokens_usd": _usd(lost_usd),
                "usd_per_mtoken": t.get("usd_per_mtoken_total"),
                "services": svcs,
            }
        )
    return rows


def html_report(run: FactoryRun, summary: dict, summaries: list[dict] | None = None) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tokenfab.factory", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_num,
        bytes=_bytes,
        pct=lambda x: "-" if x is None else f"{x:.2f}%",
        spct=lambda x: "-" if x is None else f"{x:+.2f}%",
        spts=lambda x: "-" if x is None else f"{x:+.2f} pts",
        signed=lambda x: "-" if x is None else ("+" if x > 0 else "") + _num(x),
        f1=lambda x: "-" if x is None else f"{x:,.1f}",
        f2=lambda x: "-" if x is None else f"{x:,.2f}",
        f3=lambda x: "-" if x is None else f"{x:,.3f}",
        ms=lambda x: "-" if x is None else f"{x * 1e3:,.1f}",
    )
    plots = {k: _inline(v) for k, v in run.plots.items()}
    cost_rows = network_cost(summaries) if summaries and len(summaries) > 1 else []
    if cost_rows:
        plots["comparison"] = _inline(plot.comparison_svg(summaries))
    from markupsafe import Markup

    plots = {k: Markup(v) for k, v in plots.items()}
    return env.get_template("report.html.j2").render(
        s=summary, t=summary["totals"], L=summary["ledger"], p=summary["power"], spec=run.spec, plots=plots, cost_rows=cost_rows
    )


def _inline(svg: str) -> str:
    """An SVG file's text without its XML prolog, to sit inside HTML."""
    i = svg.find("<svg")
    return svg[i:] if i >= 0 else svg


def _num(x) -> str:
    if x is None:
        return "-"
    x = float(x)
    a = abs(x)
    for unit, f in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if a >= f:
            return f"{x / f:,.3g} {unit}"
    return f"{x:,.0f}" if a >= 100 or x == int(x) else f"{x:,.3g}"


def _bytes(x) -> str:
    if x is None:
        return "-"
    x = float(x)
    for unit, f in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(x) >= f:
            return f"{x / f:,.3g} {unit}"
    return f"{x:,.0f} B"


def reference(summaries: list[dict], s: dict) -> dict:
    """What a variant is compared with: the variant it names in `against`, else the base."""
    name = s.get("against")
    return next((x for x in summaries if x["factory"] == name), summaries[0])


def mark_references(runs: list[tuple[FactoryRun, dict]]) -> None:
    """Note in each variant's summary the variant it is compared with (`against:` in `compare`)."""
    against = {v.name: v.against for v in runs[0][0].spec.compare if v.against}
    for _, s in runs[1:]:
        if s["factory"] in against:
            s["against"] = against[s["factory"]]


def comparison(summaries: list[dict]) -> list[dict]:
    rows = []
    for s in summaries:
        t = s["totals"]
        ref = reference(summaries, s)
        base = ref["totals"]
        row = {
            "variant": s["factory"],
            "against": "" if s is summaries[0] else ref["factory"],
            "scheduler": s["scheduler"],
            "comm_model": s["comm_model"],
        }
        row.update({k: t[k] for k in HEADLINE})
        row.update(isolation(s))
        if s is not summaries[0] and base["tokens"]:
            row["tokens_change_pct"] = round(100 * (t["tokens"] - base["tokens"]) / base["tokens"], 3)
        else:
            row["tokens_change_pct"] = 0.0
        rows.append(row)
    return rows


def factory_files(runs: list[tuple[FactoryRun, dict]]) -> dict[str, str]:
    mark_references(runs)
    base_run, base = runs[0]
    files = dict(run_files(base_run, base))
    for run, s in runs[1:]:
        for name, text in run_files(run, s).items():
            files[f"compare/{slug(s['factory'])}/{name}"] = text
    cl = base_run.cluster
    files["topology.conf"] = export.slurm_topology_conf(cl)
    files["kubernetes/label-nodes.sh"] = export.kubectl_label_script(cl)
    files["kubernetes/kueue-topology.yaml"] = export.kueue_topology_yaml(cl)
    comp = comparison([s for _, s in runs])
    files["comparison.csv"] = _csv(comp)
    summaries = [s for _, s in runs]
    cost = network_cost(summaries)
    if cost:
        files["network-cost.csv"] = _csv([{k: v for k, v in r.items() if k != "services"} for r in cost])
    files["report.html"] = html_report(base_run, base, summaries)
    for run, s in runs[1:]:
        files[f"compare/{slug(s['factory'])}/report.html"] = html_report(run, s)
    doc = {"base": base["factory"], "runs": {s["factory"]: s for _, s in runs}, "comparison": comp, "network_cost": cost}
    files["summary.json"] = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return files


def write(out: Path, files: dict[str, str], force: bool) -> None:
    from tokenfab.outputs import output_dir

    with output_dir(out, force=force) as tmp:
        for name, text in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
