"""What one sweep point is worth, by stage, with units (the plots' axis labels).

plan: figures from the plan's BOM and design. `uplink_gbps_per_gpu` is the bandwidth a GPU keeps
when every GPU sends across the top of the fabric: its NIC speed divided by the worst
oversubscription on the way up (rail-only designs: the rail's own share).

simulate: for each collective C and routing R of the scenario, `C_R_busbw_gbytes_per_s` (nccl-tests bus
bandwidth, GB/s), `C_R_time_s`, `C_R_gpu_idle_pct` (share of a compute_s + collective step the GPUs
wait) and `C_R_worst_link_load_pct` (the busiest link direction's mean load while bytes move).

factory: the run's KPIs (tokenfab factory run's summary totals): tokens, $/Mtoken, tokens/kWh,
SLO attainment, GPU time waiting on the network, ...
"""

from __future__ import annotations

from typing import Any

from tokenfab.errors import InputError

PLAN: dict[str, str] = {
    "gpus": "GPUs",
    "leaves": "switches",
    "spines": "switches",
    "cores": "switches",
    "switches": "switches",
    "links": "links",
    "cost_usd": "USD",
    "network_cost_usd": "USD",
    "network_cost_per_gpu_usd": "USD per GPU",
    "power_kw": "kW",
    "network_power_kw": "kW",
    "oversubscription": "ratio",
    "uplink_gbps_per_gpu": "Gb/s per GPU",
    "tiers": "tiers",
    "planes": "planes",
}
SIM_SUFFIX: dict[str, str] = {"busbw_gbytes_per_s": "GB/s", "time_s": "s", "gpu_idle_pct": "%", "worst_link_load_pct": "%"}
FACTORY: dict[str, str] = {
    "tokens": "tokens",
    "training_tokens": "tokens",
    "output_tokens": "tokens",
    "tokens_per_s": "tokens/s",
    "usd_per_mtoken": "USD per Mtoken",
    "usd_per_mtoken_total": "USD per Mtoken",
    "tokens_per_kwh": "tokens/kWh",
    "tokens_per_s_per_mw": "tokens/s per MW",
    "slo_attainment_pct": "%",
    "network_idle_gpu_h": "GPU-hours",
    "network_idle_pct_of_allocated": "%",
    "gpu_utilization_pct": "%",
    "gpu_allocation_pct": "%",
    "factory_cost_usd": "USD",
    "energy_facility_kwh": "kWh",
    "usd_per_gpu_hour": "USD per GPU-hour",
    "requests_served": "requests",
    "requests_abandoned": "requests",
    "jobs_done": "jobs",
    "interruptions": "events",
}
TEXT = {"architecture"}  # plan columns that are not numbers

# every figure plan_metrics returns; an objective must name one (checked when the spec loads)
METRICS = (
    "architecture",
    "tiers",
    "gpus",
    "leaves",
    "spines",
    "cores",
    "switches",
    "links",
    "cost_usd",
    "network_cost_usd",
    "network_cost_per_gpu_usd",
    "power_kw",
    "network_power_kw",
    "oversubscription",
    "uplink_gbps_per_gpu",
)


def sim_names(scenario: dict | None) -> dict[str, str]:
    if not scenario:
        return {}
    return {f"{c}_{r}_{k}": unit for c in scenario["collectives"] for r in scenario["routing"] for k, unit in SIM_SUFFIX.items()}


def known(spec) -> dict[str, str]:
    """Metric -> unit for what this sweep computes."""
    out = dict(PLAN)
    if spec.simulate is not None:
        # axes may vary the scenario's collectives/routing: every value they name counts
        coll = set(spec.simulate.collectives)
        rout = set(spec.simulate.routing)
        for a in spec.axes:
            if a.path == "simulate.collectives":
                coll |= {c for v in a.values or [] for c in (v if isinstance(v, list) else [v])}
            if a.path == "simulate.routing":
                rout |= {c for v in a.values or [] for c in (v if isinstance(v, list) else [v])}
        out |= sim_names({"collectives": sorted(coll), "routing": sorted(rout)})
    if spec.factory is not None:
        out |= FACTORY
    return out


def check_metrics(spec, source: str) -> None:
    names = known(spec)
    for what, items in (("objectives", spec.objectives), ("constraints", spec.constraints)):
        for i, o in enumerate(items):
            if o.metric not in names:
                stages = "plan" + (", simulate" if spec.simulate else "") + (", factory" if spec.factory is not None else "")
                raise InputError(
                    f"{source}: {what}.{i}.metric: unknown metric {o.metric!r} for this sweep ({stages}); "
                    f"known: {', '.join(sorted(names))}"
                )
    for i, c in enumerate(spec.constraints):
        if c.metric not in PLAN:
            raise InputError(
                f"{source}: constraints.{i}.metric: {c.metric!r} is known only after simulating; constraints "
                f"prune designs before that and take plan metrics: {', '.join(sorted(PLAN))}"
            )


def unit(metric: str) -> str:
    if metric in PLAN:
        return PLAN[metric]
    if metric in FACTORY:
        return FACTORY[metric]
    for suffix, u in SIM_SUFFIX.items():
        if metric.endswith(suffix):
            return u
    return ""


def plan_metrics(fabric) -> dict[str, Any]:
    from tokenfab.design.bom import NETWORK_CATEGORIES, bom, power_w, price_usd

    f = fabric
    d = f.design
    rows = bom(f)
    net = [r for r in rows if r.network == "backend" and r.category in NETWORK_CATEGORIES]
    worst = max((t.oversubscription for t in d.tiers_detail.values() if t.up_ports), default=1.0)
    gpus = d.gpus
    nic_gbps = d.link_speed_gbps * d.planes * d.rails / f.intent.cluster.gpus_per_server
    return {
        "architecture": d.architecture,
        "tiers": d.tiers,
        "planes": d.planes,
        "gpus": gpus,
        "leaves": d.leaves,
        "spines": d.spines,
        "cores": d.cores,
        "switches": d.leaves + d.spines + d.cores,
        "links": len(f.links),
        "cost_usd": round(price_usd(rows), 2),
        "network_cost_usd": round(price_usd(net), 2),
        "network_cost_per_gpu_usd": round(price_usd(net) / gpus, 2),
        "power_kw": round(power_w(rows) / 1000, 3),
        "network_power_kw": round(power_w(net) / 1000, 3),
        "oversubscription": round(worst, 3),
        "uplink_gbps_per_gpu": round(nic_gbps / worst, 3),
    }


def sim_metrics(fabric, scenario: dict) -> dict[str, Any]:
    import tokenfab.sim as sim
    from tokenfab.sweep.spec import Scenario

    sc = Scenario.model_validate(scenario)
    faults = sim.Faults(down=tuple(sc.fail), loss=sc.loss) if (sc.fail or sc.loss) else None
    out: dict[str, Any] = {}
    for c in sc.collectives:
        for r in sc.routing:
            res = sim.collective_time(
                fabric, c, sc.gpus, sc.size_bytes, servers=sc.servers, routing=r, qps=sc.qps, seed=sc.seed, faults=faults
            )
            links = res.link_utilization()[: res.net.nvl_base]
            out[f"{c}_{r}_busbw_gbytes_per_s"] = round(res.busbw_GBps, 4)
            out[f"{c}_{r}_time_s"] = round(res.time_s, 9)
            out[f"{c}_{r}_gpu_idle_pct"] = round(100 * res.gpu_idle(sc.compute_s), 4)
            out[f"{c}_{r}_worst_link_load_pct"] = round(100 * float(links.max()) if len(links) else 0.0, 4)
    return out


def factory_metrics(fabric, factory: dict) -> dict[str, Any]:
    from tokenfab.factory.engine import run_factory
    from tokenfab.factory.kpis import summarize
    from tokenfab.factory.spec import parse_factory
    from tokenfab.sweep.spec import factory_catalog

    with factory_catalog(factory):  # its own catalog files too (models, GPUs) while it runs
        spec = parse_factory({**factory, "fabric": factory.get("fabric", "sweep")}, "factory")
        totals = summarize(run_factory(spec, fabric))["totals"]
    out = {}
    for k in FACTORY:
        v = totals.get("cost_usd" if k == "factory_cost_usd" else k)
        out[k] = v if isinstance(v, (int, float)) or v is None else None
    return out
