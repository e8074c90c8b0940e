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

from tokenfab.factory import export
from tokenfab.factory.engine import FactoryRun
from tokenfab.factory.plot import utilization_svg

HEADLINE = ("tokens", "training_tokens", "output_tokens", "tokens_per_s", "gpu_allocation_pct", "gpu_utilization_pct",
            "network_idle_pct_of_allocated", "network_idle_gpu_h", "jobs_done", "energy_facility_kwh",
            "usd_per_gpu_hour", "cost_usd", "usd_per_mtoken", "tokens_per_kwh", "tokens_per_s_per_mw")


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
    return {"mean_slowdown": round(sum(s) / len(s), 5) if s else None, "worst_slowdown": max(s) if s else None,
            "jobs_slowed_over_1pct": sum(x > 1.01 for x in s)}


def run_files(run: FactoryRun, summary: dict) -> dict[str, str]:
    ep = [{"t0_h": round(e.t0_s / 3600, 5), "t1_h": round(e.t1_s / 3600, 5), "allocated_gpus": e.allocated_gpus,
           "busy_gpus": round(e.busy_gpus, 3), "network_idle_gpus": round(e.net_idle_gpus, 3),
           "facility_power_w": round(e.power_w, 1), "running_jobs": e.running, "queued_jobs": e.queued,
           "tokens_per_s": round(e.tokens_per_s, 2)} for e in run.epochs]
    return {
        "jobs.csv": _csv(summary["jobs"]),
        "tenants.csv": _csv(summary["tenants"]),
        "timeline.csv": _csv(ep),
        "utilization.svg": utilization_svg(run),
        "placement.csv": export.placement_csv(run.cluster, run.jobs),
        "assumptions.txt": "\n".join(summary["assumptions"] + [summary["totals"]["cost_model"]]) + "\n",
    }


def comparison(summaries: list[dict]) -> list[dict]:
    base = summaries[0]["totals"]
    rows = []
    for s in summaries:
        t = s["totals"]
        row = {"variant": s["factory"], "scheduler": s["scheduler"], "comm_model": s["comm_model"]}
        row.update({k: t[k] for k in HEADLINE})
        row.update(isolation(s))
        if s is not summaries[0] and base["tokens"]:
            row["tokens_change_pct"] = round(100 * (t["tokens"] - base["tokens"]) / base["tokens"], 3)
        else:
            row["tokens_change_pct"] = 0.0
        rows.append(row)
    return rows


def factory_files(runs: list[tuple[FactoryRun, dict]]) -> dict[str, str]:
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
    doc = {"base": base["factory"], "runs": {s["factory"]: s for _, s in runs}, "comparison": comp}
    files["summary.json"] = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return files


def write(out: Path, files: dict[str, str], force: bool) -> None:
    from tokenfab.outputs import output_dir

    with output_dir(out, force=force) as tmp:
        for name, text in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
