"""Two designs side by side: counts, cost and power of their plans, the figures of their latest
simulate and factory runs, and the device/link diff of `plan --diff`."""

from __future__ import annotations

import json
from typing import Any

from tokenfab.server.plans import fabric_summary
from tokenfab.server.workspace import Workspace

PLAN_ROWS = (
    ("GPUs", lambda s: s["design"].get("gpus")),
    ("servers", lambda s: s["design"].get("servers")),
    ("switches", lambda s: s["switches"]),
    ("tiers", lambda s: s["design"].get("tiers")),
    ("architecture", lambda s: s["design"].get("architecture")),
    ("leaves", lambda s: s["design"].get("leaves")),
    ("spines", lambda s: s["design"].get("spines")),
    ("cores", lambda s: s["design"].get("cores")),
    ("link speed (Gb/s)", lambda s: s["design"].get("link_speed_gbps")),
    ("cost (USD)", lambda s: round(s["totals"]["price_usd"])),
    ("power (kW)", lambda s: round(s["totals"]["power_w"] / 1000, 1)),
)
FACTORY_FIGURES = (
    ("tokens", "tokens"),
    ("usd_per_mtoken_total", "$ per Mtoken"),
    ("tokens_per_kwh", "tokens per kWh"),
    ("gpu_h_network", "GPU-h waiting on the network"),
)


def run_figures(ws: Workspace, name: str) -> dict[str, Any]:
    """Figures of a design's latest simulate run (peak busbw per routing) and factory run (KPIs)."""
    out: dict[str, Any] = {}
    runs = ws.runs(name)
    sims = [r for r in runs if r["kind"] == "simulate" and (ws.run_dir(name, r["run"]) / "result.json").exists()]
    if sims:
        res = json.loads((ws.run_dir(name, sims[-1]["run"]) / "result.json").read_text())
        for s in res["series"]:
            out[f"{res['collective']} busbw, {s['routing']} (GB/s, {sims[-1]['run']})"] = max(s["busbw_GBps"])
    facts = [r for r in runs if r["kind"] == "factory" and (ws.run_dir(name, r["run"]) / "out" / "summary.json").exists()]
    if facts:
        doc = json.loads((ws.run_dir(name, facts[-1]["run"]) / "out" / "summary.json").read_text())
        t = doc["runs"][doc["base"]]["totals"]
        for key, label in FACTORY_FIGURES:
            if key in t:
                out[f"{label} ({facts[-1]['run']}: {doc['base']})"] = t[key]
    return out


def compare_designs(ws: Workspace, a: str, fa, b: str, fb) -> dict[str, Any]:
    from tokenfab.report.diff import diff_fabrics

    sa, sb = fabric_summary(fa), fabric_summary(fb)
    rows = []

    def row(item: str, va: Any, vb: Any) -> None:
        rows.append({"item": item, "a": va, "b": vb, "differs": va != vb})

    for label, get in PLAN_ROWS:
        row(label, get(sa), get(sb))
    for key in sorted(set(sa["counts"]) | set(sb["counts"])):
        row(key, sa["counts"].get(key), sb["counts"].get(key))
    ra, rb = run_figures(ws, a), run_figures(ws, b)  # the latest simulate and factory runs of each
    for key in sorted(set(ra) | set(rb)):
        row(key, ra.get(key), rb.get(key))
    d = diff_fabrics(fa, fb)
    diff = {
        part: {what: {"count": len(items), "first": items[:50]} for what, items in getattr(d, part).items()}
        for part in ("added", "removed", "changed")
    }
    return {"a": a, "b": b, "rows": rows, "diff": diff}
