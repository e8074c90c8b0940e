"""What the factory produced over the window, and at what cost and energy.

    $/GPU-hour (TCO)  = (capex x (1/years + opex%) / 8760 h x window + energy kWh x $/kWh) / GPU-hours
    $/M tokens        = cost of the window / tokens x 10^6
    tokens/kWh        = tokens / facility energy (IT x PUE)
    tokens/s per MW   = mean tokens/s / mean facility MW
    training cost     = 6 N D / (peak x MFU x goodput) GPU-seconds / 3600 x $/GPU-hour

Tokens are training tokens processed plus inference output tokens generated (input tokens served
are reported beside them). A job's cost is its GPU-hours at the factory's $/GPU-hour; GPU-hours
nobody used are reported as unallocated.
"""

from __future__ import annotations

import math

import numpy as np

from tokenfab.factory.accounting import Cause
from tokenfab.factory.engine import FactoryRun
from tokenfab.factory.jobs import JobRun


def _r(x: float, nd: int = 4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), nd)


def job_row(j: JobRun, cluster, gpu_hour_usd: float, window_s: float) -> dict:
    placement = j.placement
    servers = np.unique(placement // cluster.gpus_per_server) if placement is not None else np.zeros(0, int)
    sus = sorted(set(cluster.su[servers].tolist())) if len(servers) else []
    pods = sorted(set(cluster.pod[servers].tolist())) if len(servers) else []
    a = j.acc
    by = a.gpu_s_by_cause
    run = a.run_s or 0.0
    gpu_h = a.gpu_s / 3600.0
    cost = gpu_h * gpu_hour_usd
    row = {
        "name": j.name,
        "tenant": j.tenant,
        "kind": j.kind,
        "stage": j.stage,
        "service": j.service or j.lifecycle or "",
        "model": (j.workload.training or j.workload.inference).model,
        "gpus": j.gpus,
        "status": j.status,
        "arrive_h": _r(j.req.arrive_s / 3600, 3),
        "start_h": _r(j.start_s / 3600, 3) if j.start_s is not None else None,
        "end_h": _r(j.end_s / 3600, 3) if j.end_s is not None else None,
        "wait_h": (
            _r(((j.start_s if j.start_s is not None else window_s) - j.req.arrive_s) / 3600, 3) if j.status != "pending" else None
        ),
        "run_h": _r(run / 3600, 3),
        "servers": len(servers),
        "scalable_units": len(sus),
        "pods": len(pods),
        "steps": _r(a.steps, 2),
        "tokens": _r(a.tokens, 0),
        "input_tokens": _r(a.input_tokens, 0),
        "step_s": _r(a.w_step_s / run, 5) if run else None,
        "step_alone_s": _r(a.w_alone_step_s / run, 5) if run else None,
        "slowdown": _r(a.w_step_s / a.w_alone_step_s, 4) if a.w_alone_step_s else None,
        "mfu": _r(a.w_mfu / run, 4) if run and j.kind == "training" else None,
        "ttft_s": _r(a.w_ttft_s / run, 4) if run and j.kind == "inference" else None,
        "tpot_s": _r(a.w_tpot_s / run, 5) if run and j.kind == "inference" else None,
        "tokens_per_s_per_gpu": _r(a.tokens / run / j.gpus, 2) if run else None,
        "gpu_h": _r(gpu_h, 3),
        "busy_pct": _r(100 * by[Cause.COMPUTING] / a.gpu_s, 2) if a.gpu_s else None,
        "network_idle_pct": _r(100 * by[Cause.NETWORK] / a.gpu_s, 2) if a.gpu_s else None,
        "contention_idle_pct": _r(100 * a.contention_gpu_s / a.gpu_s, 2) if a.gpu_s else None,
        "bubble_pct": _r(100 * a.bubble_gpu_s / a.gpu_s, 2) if a.gpu_s else None,
        "network_idle_gpu_h": _r(by[Cause.NETWORK] / 3600, 3),
        "storage_idle_pct": _r(100 * by[Cause.STORAGE] / a.gpu_s, 2) if a.gpu_s else None,
        "starved_pct": _r(100 * by[Cause.PIPELINE_STARVATION] / a.gpu_s, 2) if a.gpu_s else None,
        "failure_pct": _r(100 * by[Cause.FAILURES] / a.gpu_s, 2) if a.gpu_s else None,
        "low_demand_pct": _r(100 * by[Cause.LOW_DEMAND] / a.gpu_s, 2) if a.gpu_s else None,
        "interruptions": a.interruptions,
        "energy_kwh": _r(a.energy_j / 3.6e6, 3),
        "cost_usd": _r(cost, 2),
        "usd_per_mtoken": _r(cost / a.tokens * 1e6, 4) if a.tokens else None,
        "contended_on": " ".join(j.contended_on),
    }
    return row


def summarize(run: FactoryRun) -> dict:
    spec, cl, pw = run.spec, run.cluster, run.power
    window_s = spec.window_s
    n = cl.n_gpus
    E = run.epochs
    dt = np.array([e.t1_s - e.t0_s for e in E]) if E else np.zeros(0)

    def integ(attr: str) -> float:
        return float(np.dot(dt, [getattr(e, attr) for e in E])) if E else 0.0

    def integ_cause(c: Cause) -> float:
        return float(np.dot(dt, [e.gpus(c) for e in E])) if E else 0.0

    alloc_gs, busy_gs, net_gs = integ("allocated_gpus"), integ_cause(Cause.COMPUTING), integ_cause(Cause.NETWORK)
    facility_j, it_j = integ("power_w"), integ("it_power_w")
    gpu_j, server_j = integ("gpu_w"), integ("server_w")
    facility_kwh = facility_j / 3.6e6
    c = spec.cost
    if c.gpu_hour_usd is not None:
        gpu_hour = c.gpu_hour_usd
        total_cost = gpu_hour * n * window_s / 3600
        cost_model = f"rented at ${gpu_hour:.2f}/GPU-hour"
        capex_part = energy_cost = None
    else:
        capex_part = pw.capex_usd * (1 / c.amortization_years + c.opex_percent_of_capex / 100) / 8760 * window_s / 3600
        energy_cost = facility_kwh * c.electricity_usd_per_kwh
        total_cost = capex_part + energy_cost
        gpu_hour = total_cost / (n * window_s / 3600)
        cost_model = (
            f"TCO: capex ${pw.capex_usd:,.0f} over {c.amortization_years:g} years + {c.opex_percent_of_capex:g}%/year "
            f"opex + energy at ${c.electricity_usd_per_kwh}/kWh"
        )
    jobs = [job_row(j, cl, gpu_hour, window_s) for j in run.jobs]
    train_tokens = sum(j.acc.tokens for j in run.jobs if j.kind == "training")
    out_tokens = sum(j.acc.tokens for j in run.jobs if j.kind == "inference")
    in_tokens = sum(j.acc.input_tokens for j in run.jobs)
    tokens = train_tokens + out_tokens
    mean_mw = facility_j / window_s / 1e6
    tenants: dict[str, dict] = {}
    for j, _row in zip(run.jobs, jobs):
        t = tenants.setdefault(
            j.tenant,
            {
                "tenant": j.tenant,
                "jobs": 0,
                "gpu_h": 0.0,
                "training_tokens": 0.0,
                "output_tokens": 0.0,
                "input_tokens": 0.0,
                "busy_gpu_h": 0.0,
                "network_idle_gpu_h": 0.0,
                "contention_gpu_h": 0.0,
                "storage_idle_gpu_h": 0.0,
                "starved_gpu_h": 0.0,
                "failure_gpu_h": 0.0,
                "low_demand_gpu_h": 0.0,
                "cost_usd": 0.0,
                "energy_kwh": 0.0,
            },
        )
        t["jobs"] += 1
        t["gpu_h"] += j.acc.gpu_s / 3600
        t["training_tokens" if j.kind == "training" else "output_tokens"] += j.acc.tokens
        t["input_tokens"] += j.acc.input_tokens
        t["busy_gpu_h"] += j.acc.gpu_s_by_cause[Cause.COMPUTING] / 3600
        t["network_idle_gpu_h"] += j.acc.gpu_s_by_cause[Cause.NETWORK] / 3600
        t["contention_gpu_h"] += j.acc.contention_gpu_s / 3600
        t["storage_idle_gpu_h"] += j.acc.gpu_s_by_cause[Cause.STORAGE] / 3600
        t["starved_gpu_h"] += j.acc.gpu_s_by_cause[Cause.PIPELINE_STARVATION] / 3600
        t["failure_gpu_h"] += j.acc.gpu_s_by_cause[Cause.FAILURES] / 3600
        t["low_demand_gpu_h"] += j.acc.gpu_s_by_cause[Cause.LOW_DEMAND] / 3600
        t["cost_usd"] += j.acc.gpu_s / 3600 * gpu_hour
        t["energy_kwh"] += j.acc.energy_j / 3.6e6
    tenant_rows = []
    for t in sorted(tenants.values(), key=lambda r: r["tenant"]):
        toks = t["training_tokens"] + t["output_tokens"]
        t["network_idle_pct"] = 100 * t["network_idle_gpu_h"] / t["gpu_h"] if t["gpu_h"] else None
        t["usd_per_mtoken"] = t["cost_usd"] / toks * 1e6 if toks else None
        tenant_rows.append({k: (_r(v, 3) if isinstance(v, float) else v) for k, v in t.items()})
    training = []
    for j in run.jobs:
        if j.kind != "training" or not j.acc.run_s or not j.acc.w_mfu:
            continue
        m = j.alone.model
        mfu = j.acc.w_mfu / j.acc.run_s
        D = j.req.target_tokens or (
            j.req.target_steps * j.workload.training.tokens_per_step if j.req.target_steps else j.acc.tokens
        )
        gpu_s = 6 * m.active_params * D / (j.alone.peak_flops * mfu * c.goodput)
        training.append(
            {
                "job": j.name,
                "model": m.name,
                "tokens_D": _r(D, 0),
                "params_N": m.active_params,
                "mfu": _r(mfu, 4),
                "goodput": c.goodput,
                "peak_tflops": _r(j.alone.peak_flops / 1e12, 1),
                "gpu_hours": _r(gpu_s / 3600, 1),
                "cost_usd": _r(gpu_s / 3600 * gpu_hour, 2),
                "formula": "6 N D / (peak x MFU x goodput) / 3600 x $/GPU-hour",
            }
        )
    power = {
        "gpus_w": _r(gpu_j / window_s, 1),
        "servers_overhead_w": _r(server_j / window_s, 1),
        "switches_w": _r(pw.switch_w, 1),
        "optics_w": _r(pw.optics_w, 1),
        "nics_w": _r(pw.nic_w, 1),
        "it_w": _r(it_j / window_s, 1),
        "pue": spec.power.pue,
        "facility_w": _r(facility_j / window_s, 1),
    }
    totals = {
        "window_h": spec.window_h,
        "gpus": n,
        "jobs": len(run.jobs),
        "jobs_done": sum(j.status == "done" for j in run.jobs),
        "jobs_running_at_end": sum(j.status == "running" for j in run.jobs),
        "jobs_queued_at_end": sum(j.status == "queued" for j in run.jobs),
        "tokens": _r(tokens, 0),
        "training_tokens": _r(train_tokens, 0),
        "output_tokens": _r(out_tokens, 0),
        "input_tokens": _r(in_tokens, 0),
        "tokens_per_s": _r(tokens / window_s, 2),
        "gpu_allocation_pct": _r(100 * alloc_gs / (n * window_s), 3),
        "gpu_utilization_pct": _r(100 * busy_gs / (n * window_s), 3),
        "network_idle_pct_of_allocated": _r(100 * net_gs / alloc_gs, 3) if alloc_gs else None,
        "network_idle_gpu_h": _r(net_gs / 3600, 3),
        "energy_facility_kwh": _r(facility_kwh, 2),
        "energy_it_kwh": _r(it_j / 3.6e6, 2),
        "usd_per_gpu_hour": _r(gpu_hour, 4),
        "cost_usd": _r(total_cost, 2),
        "cost_capex_usd": _r(capex_part, 2) if capex_part is not None else None,
        "cost_energy_usd": _r(energy_cost, 2) if energy_cost is not None else None,
        "usd_per_mtoken": _r(total_cost / tokens * 1e6, 4) if tokens else None,
        "tokens_per_kwh": _r(tokens / facility_kwh, 1) if facility_kwh else None,
        "tokens_per_s_per_mw": _r(tokens / window_s / mean_mw, 1) if mean_mw else None,
        "unallocated_gpu_h": _r((n * window_s - alloc_gs) / 3600, 2),
        "cost_model": cost_model,
    }
    from tokenfab.factory import ledger

    led = ledger.build(run, gpu_hour, total_cost)
    for cause, v in led["gpu_time"].items():
        totals[f"gpu_h_{cause}"] = v["gpu_h"]
    totals["inference_output_tokens"] = _r(sum(s.output_tokens for s in run.services), 0)
    totals["requests_served"] = _r(sum(s.served for s in run.services), 1)
    totals["requests_abandoned"] = _r(sum(s.abandoned for s in run.services), 1)
    totals["slo_attainment_pct"] = _r(ledger.slo_attainment_pct(run), 3)
    totals["cost_total_usd"] = led["cost"]["total_usd"]
    totals["usd_per_mtoken_total"] = _r(led["cost"]["total_usd"] / tokens * 1e6, 4) if tokens else None
    if run.data is not None:
        b = run.data.balance()
        totals["bytes_ingested"] = _r(b["ingested_bytes"], 0)
        totals["bytes_stored"] = _r(b["stored_bytes"], 0)
        totals["bytes_dropped"] = _r(b["dropped_bytes"], 0)
    totals["models_deployed"] = sum(len(s.deployed_at_s) for s in run.services)
    totals["interruptions"] = sum(1 for e in run.events if e["kind"] == "failure")
    return {
        "factory": spec.name,
        "fabric": run.fabric.intent.name,
        "comm_model": run.comm_name,
        "scheduler": spec.scheduler.policy,
        "totals": totals,
        "power": power,
        "jobs": jobs,
        "tenants": tenant_rows,
        "training_cost": training,
        "link_load_peak": run.link_load,
        "assumptions": run.assumptions,
        "ledger": led,
        # about the file itself (old key names, ...), for the web app and API callers; only when there are some
        **({"notes": list(spec.notes)} if spec.notes else {}),
    }
