"""A factory run's dashboard, read from the files `tokenfab factory run` wrote.

The manager's questions first: tokens, $/Mtoken, tokens/kWh, GPU time by cause over the window,
SLO attainment per service and tenant, the variants side by side, and what the network costs in
dollars (GPU time waiting on the network, priced, and the network's share of capex).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def network_capex(plan: Path) -> dict[str, float]:
    """The network's share of the capex in the plan's BOM (switches, optics and NICs of every network)."""
    total = network = 0.0
    for row in _csv(plan / "bom.csv"):
        if row.get("category") in ("server", "switch", "optic", "nic") and row.get("total_price_usd"):
            price = float(row["total_price_usd"])
            total += price
            if row["category"] != "server":
                network += price
    return {
        "capex_usd": round(total, 2),
        "network_capex_usd": round(network, 2),
        "network_share_pct": round(100 * network / total, 2) if total else 0.0,
    }


def factory_dashboard(out: Path, plan: Path | None = None) -> dict[str, Any]:
    doc = json.loads((out / "summary.json").read_text())
    base = doc["runs"][doc["base"]]
    totals = base.get("totals", {})
    ledger = base.get("ledger", {})
    timeline = _csv(out / "timeline.csv")
    causes = [k for k in (timeline[0] if timeline else {}) if k.endswith("_gpus") and k != "allocated_gpus"]
    return {
        "base": doc["base"],
        "notes": base.get("notes", []),  # about the factory file (old key names)
        "totals": totals,
        "gpu_time": ledger.get("gpu_time", {}),
        "timeline": {
            "t_h": [float(r["t0_h"]) for r in timeline],
            "series": {c: [float(r[c]) for r in timeline] for c in causes},
            "tokens_per_s": [float(r["tokens_per_s"]) for r in timeline],
        },
        "services": _csv(out / "services.csv"),
        "tenants": _csv(out / "tenants.csv"),
        "comparison": doc.get("comparison", []),
        "network_cost": doc.get("network_cost", []),
        "report": "out/report.html",
        "network_dollars": {
            "gpu_h_waiting_on_network": totals.get("gpu_h_network", 0.0),
            "usd_per_gpu_hour": totals.get("usd_per_gpu_hour", 0.0),
            "usd_waiting_on_network": round(totals.get("gpu_h_network", 0.0) * totals.get("usd_per_gpu_hour", 0.0), 2),
            **(network_capex(plan) if plan is not None else {}),
        },
    }
