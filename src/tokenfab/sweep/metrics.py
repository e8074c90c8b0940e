"""What one design point is worth: figures from the plan (cost, power, counts, bandwidth).

`uplink_gbps_per_gpu` is the bandwidth a GPU keeps when every GPU sends across the top of the
fabric: its NIC speed divided by the worst oversubscription on the way up (rail-only designs:
cross-rail traffic does not use the network, so the figure is the rail's own share)."""

from __future__ import annotations

from tokenfab import parse_intent, plan
from tokenfab.report.tables import bom_rows

# every figure plan_metrics returns; an objective must name one (checked when the spec loads)
METRICS = ("architecture", "tiers", "gpus", "leaves", "spines", "cores", "switches", "links", "cost_usd",
           "network_cost_usd", "network_cost_per_gpu_usd", "power_kw", "network_power_kw", "oversubscription",
           "uplink_gbps_per_gpu")


def plan_metrics(data: dict) -> dict:
    f = plan(parse_intent(data))
    d = f.design
    rows = bom_rows(f)
    backend = [r for r in rows if r["network"] == "backend"]
    net = [r for r in backend if r["category"] in ("switch", "optic", "nic")]
    worst = max((t["oversubscription"] for t in d["tiers_detail"].values() if t["up_ports"]), default=1.0)
    gpus = d["gpus"]
    nic_gbps = d["link_speed_gbps"] * d["planes"] * d["rails"] / f.intent.cluster.gpus_per_server
    return {
        "architecture": d["architecture"],
        "tiers": d["tiers"],
        "gpus": gpus,
        "leaves": d["leaves"],
        "spines": d["spines"],
        "cores": d["cores"],
        "switches": d["leaves"] + d["spines"] + d["cores"],
        "links": len(f.links),
        "cost_usd": round(sum(r["total_price_usd"] for r in rows), 2),
        "network_cost_usd": round(sum(r["total_price_usd"] for r in net), 2),
        "network_cost_per_gpu_usd": round(sum(r["total_price_usd"] for r in net) / gpus, 2),
        "power_kw": round(sum(r["total_power_w"] for r in rows) / 1000, 3),
        "network_power_kw": round(sum(r["total_power_w"] for r in net) / 1000, 3),
        "oversubscription": round(worst, 3),
        "uplink_gbps_per_gpu": round(nic_gbps / worst, 3),
    }
