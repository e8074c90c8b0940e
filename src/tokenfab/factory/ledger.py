"""The data-to-tokens ledger of a run: what came in, where it went, what came out, what it cost.

    data       bytes ingested per source; per pipeline stored / filtered by stage / dropped with a
               reason / pending; datasets and their versions
    storage    per tier: bytes written (datasets, checkpoints, models) and read (training, restores,
               weight loads), capacity used; the storage fabric's bandwidth and utilisation
    training   per job: tokens, steps, checkpoints (interval, write time, Young/Daly optimum),
               interruptions, work lost, goodput
    models     registered and deployed versions per lifecycle
    inference  per service: requests arrived / served / abandoned / rejected / pending, tokens,
               SLO attainment, TTFT and TPOT, replicas
    tokens     every token, attributed to a tenant and a service (or job)
    gpu_time   every GPU-hour of the window by cause (sums to GPUs x window)
    cost       GPUs and fabric (TCO or rental), CPU pools, storage capacity; energy

Conservation holds by construction and is checked: ingested = stored + filtered + dropped +
pending; the token rows sum to the totals; the GPU-time causes sum to GPUs x window.
"""

from __future__ import annotations

import math

import numpy as np

from tokenfab.factory import accounting
from tokenfab.factory.accounting import Cause
from tokenfab.factory.engine import FactoryRun

GB = 1e9


def _r(x, nd: int = 4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), nd)


def gpu_time(run: FactoryRun) -> dict[str, float]:
    """GPU-seconds of the window by cause."""
    return accounting.by_label(run.gpu_s_by_cause())


def token_rows(run: FactoryRun) -> list[dict]:
    """Every token with its tenant and the service or job that produced it."""
    rows: dict[tuple, dict] = {}
    for j in run.jobs:
        if j.stage == "replica":
            key = (j.tenant, j.service, "inference")
        elif j.stage in ("train", "evaluate"):
            key = (j.tenant, f"{j.lifecycle}/{j.stage}", j.kind)
        else:
            key = (j.tenant, j.name, j.kind)
        r = rows.setdefault(
            key,
            {
                "tenant": key[0],
                "service": key[1],
                "kind": key[2],
                "training_tokens": 0.0,
                "output_tokens": 0.0,
                "input_tokens": 0.0,
            },
        )
        if j.kind == "training":
            r["training_tokens"] += j.acc.tokens
        else:
            r["output_tokens"] += j.acc.tokens
            r["input_tokens"] += j.acc.input_tokens
    return [rows[k] for k in sorted(rows)]


def build(run: FactoryRun, gpu_hour_usd: float, base_cost_usd: float) -> dict:
    spec, cl = run.spec, run.cluster
    W = spec.window_s
    n = cl.n_gpus
    gt = gpu_time(run)
    total_gs = n * W
    gpu = {k: {"gpu_h": _r(v / 3600, 3), "pct": _r(100 * v / total_gs, 3)} for k, v in gt.items()}
    led: dict = {
        "gpu_time": gpu,
        "gpu_time_total_gpu_h": _r(total_gs / 3600, 3),
        "gpu_time_unaccounted_gpu_h": _r(accounting.unaccounted_gpu_s(gt, n, W) / 3600, 6),
    }
    # -- data
    if run.data is not None:
        d = run.data
        sources: dict[str, dict] = {}
        for p in d.pipelines:
            s = sources.setdefault(
                p.source.name,
                {
                    "source": p.source.name,
                    "tenant": p.source.tenant,
                    "kind": "stream" if p.source.stream else "batch",
                    "ingested_bytes": 0.0,
                },
            )
            s["ingested_bytes"] += p.ingested
        for name, b in d.orphan_bytes.items():
            src = next(s for s in spec.sources if s.name == name)
            sources[name] = {
                "source": name,
                "tenant": src.tenant,
                "kind": "stream" if src.stream else "batch",
                "ingested_bytes": b,
                "dropped_bytes": b,
                "dropped_reason": "no pipeline reads it",
            }
        pipes = []
        for p in d.pipelines:
            pipes.append(
                {
                    "pipeline": p.spec.name,
                    "tenant": p.spec.tenant,
                    "source": p.source.name,
                    "dataset": p.spec.output.dataset,
                    "tier": p.spec.output.tier,
                    "ingested_bytes": _r(p.ingested, 0),
                    "stored_bytes": _r(p.stored, 0),
                    "filtered_bytes": {k: _r(v, 0) for k, v in sorted(p.filtered.items())},
                    "dropped_bytes": {k: _r(v, 0) for k, v in sorted(p.dropped.items())},
                    "pending_bytes": _r(p.pending, 0),
                    "cpu_nodes": p.spec.nodes,
                    "cpu_utilization_pct": _r(100 * p.cpu_busy_s / (p.spec.nodes * W), 2),
                    "bottleneck_at_end": p.bottleneck or None,
                }
            )
        dsets = []
        for ds in sorted(d.datasets.values(), key=lambda x: x.name):
            dsets.append(
                {
                    "dataset": ds.name,
                    "tenant": ds.tenant,
                    "tier": ds.tier,
                    "bytes": _r(ds.stored_bytes, 0),
                    "bytes_at_start": _r(ds.initial_bytes, 0),
                    "added_bytes": _r(ds.stored_bytes - ds.initial_bytes, 0),
                    "versions": len(ds.versions),
                    "tokens": _r(ds.tokens(), 0),
                    "version_history": [{"version": v, "t_h": _r(t / 3600, 4), "bytes": _r(b, 0)} for v, t, b in ds.versions],
                }
            )
        bal = d.balance()
        led["data"] = {
            "sources": [
                {k: (_r(v, 0) if isinstance(v, float) else v) for k, v in s.items()}
                for s in sorted(sources.values(), key=lambda x: x["source"])
            ],
            "pipelines": pipes,
            "datasets": dsets,
            "balance": {k: _r(v, 0) for k, v in bal.items()},
        }
    # -- storage
    if run.storage is not None:
        st = run.storage
        tiers = []
        for name, t in st.tiers.items():
            tiers.append(
                {
                    "tier": name,
                    "kind": t.spec.kind,
                    "capacity_tbytes": t.spec.capacity_tbytes,
                    "used_tbytes_end": _r(t.used_bytes / 1e12, 4),
                    "peak_tbytes": _r(t.peak_bytes / 1e12, 4),
                    "written_bytes": {k: _r(v, 0) for k, v in sorted(t.written.items())},
                    "read_bytes": {k: _r(v, 0) for k, v in sorted(t.read.items())},
                    "read_gbytes_per_s": t.spec.read_gbytes_per_s,
                    "write_gbytes_per_s": t.spec.write_gbytes_per_s,
                }
            )
        u = st.fabric_util
        dur = np.array([b - a for a, b, _ in u]) if u else np.zeros(0)
        util = np.array([x for _, _, x in u]) if u else np.zeros(0)
        led["storage"] = {
            "tiers": tiers,
            "fabric": {
                "source": st.fabric_source,
                "capacity_gbytes_per_s": _r(st.fabric_nominal_bytes_per_s / GB, 3),
                "mean_utilization_pct": _r(100 * float(np.dot(dur, util) / dur.sum()), 3) if len(u) else 0.0,
                "peak_utilization_pct": _r(100 * float(util.max()), 3) if len(u) else 0.0,
            },
        }
    # -- frontend: requests in, responses out
    fe = run.frontend
    if fe is not None and run.services:
        u = fe.used_bytes_per_s
        dur = np.array([b - a for a, b, _ in u]) if u else np.zeros(0)
        bps = np.array([x for _, _, x in u]) if u else np.zeros(0)
        cap = fe.capacity_bytes_per_s
        led["frontend"] = {
            "capacity_gbytes_per_s": _r(cap / GB, 3) if math.isfinite(cap) else None,
            "mean_gbytes_per_s": _r(float(np.dot(dur, bps)) / W / GB, 6),
            "peak_utilization_pct": _r(100 * float(bps.max()) / cap, 4) if len(u) and math.isfinite(cap) else None,
            "note": "requests and streamed responses of every service; latency, jitter and loss add to TTFT/TPOT",
        }
    # -- training
    train = []
    for j in run.jobs:
        if j.kind != "training":
            continue
        ideal, ck, by = j.acc.ideal_tokens, j.ckpt, j.acc.gpu_s_by_cause
        train.append(
            {
                "job": j.name,
                "tenant": j.tenant,
                "lifecycle": j.lifecycle,
                "model": j.workload.training.model,
                "gpus": j.gpus,
                "status": j.status,
                "dataset": j.req.dataset,
                "tokens": _r(j.acc.tokens, 0),
                "steps": _r(j.acc.steps, 2),
                "checkpoints": ck.count,
                "checkpoint_interval_min": _r(ck.interval_s / 60, 3) if ck.interval_s else None,
                "checkpoint_write_s": _r(ck.write_s, 3) if ck.interval_s else None,
                "checkpoint_gbytes": _r(ck.bytes / GB, 2) if ck.bytes else None,
                "young_daly_min": _r(_young_daly_min(run, j), 3) if ck.interval_s else None,
                "interruptions": j.acc.interruptions,
                "lost_tokens": _r(j.acc.lost_tokens, 0),
                "goodput": _r(j.acc.tokens / ideal, 5) if ideal > 0 else None,
                "storage_idle_gpu_h": _r(by[Cause.STORAGE] / 3600, 3),
                "starved_gpu_h": _r(by[Cause.PIPELINE_STARVATION] / 3600, 3),
                "failure_gpu_h": _r(by[Cause.FAILURES] / 3600, 3),
            }
        )
    led["training"] = train
    tr_tok = sum(j.acc.tokens for j in run.jobs if j.kind == "training")
    tr_gpu_h = sum(j.acc.gpu_s for j in run.jobs if j.kind == "training") / 3600
    led["training_usd_per_mtoken"] = _r(tr_gpu_h * gpu_hour_usd / tr_tok * 1e6, 5) if tr_tok else None
    led["models"] = [
        dict(
            r,
            lifecycle=lc.name,
            registered_h=_r(r["registered_h"], 4),
            deployed_h=_r(r["deployed_h"], 4),
            bytes=_r(r["bytes"], 0),
        )
        for lc in run.lifecycles
        for r in lc.registered
    ]
    # -- inference
    svc_rows = []
    for s in run.services:
        reps = [r for r in run.jobs if r.service == s.name]
        resolved = s.served + s.abandoned
        series_reps = [row["replicas"] for row in s.series] or [0]
        svc_rows.append(
            {
                "service": s.name,
                "tenant": s.spec.tenant,
                "application": s.spec.application,
                "model": s.infer.model,
                "gpus_per_replica": s.infer.gpus,
                "requests_arrived": _r(s.arrived, 1),
                "requests_served": _r(s.served, 1),
                "requests_abandoned": _r(s.abandoned, 1),
                "requests_rejected": _r(s.rejected, 1),
                "requests_pending": _r(s.backlog, 1),
                "output_tokens": _r(s.output_tokens, 0),
                "input_tokens": _r(s.input_tokens, 0),
                "slo_ttft_s": s.spec.slo.ttft_s,
                "slo_tpot_s": s.spec.slo.tpot_s,
                "slo_attainment_pct": _r(100 * s.attained / resolved, 3) if resolved else None,
                "ttft_attainment_pct": _r(100 * s.attained_ttft / resolved, 3) if resolved else None,
                "tpot_attainment_pct": _r(100 * s.attained_tpot / resolved, 3) if resolved else None,
                "mean_ttft_s": _r(s.w_ttft / s.served, 5) if s.served else None,
                "mean_tpot_s": _r(s.w_tpot / s.served, 6) if s.served else None,
                "replicas_started": len(reps),
                "replicas_max": max(series_reps),
                "replicas_min": min(series_reps),
                "replica_gpu_h": _r(sum(r.acc.gpu_s for r in reps) / 3600, 3),
                "usd_per_moutput_token": _r(sum(r.acc.gpu_s for r in reps) / 3600 * gpu_hour_usd / s.output_tokens * 1e6, 4)
                if s.output_tokens
                else None,
                "versions_deployed": len(s.deployed_at_s),
            }
        )
    led["inference"] = svc_rows
    # -- tokens
    rows = token_rows(run)
    led["tokens"] = {
        "rows": [{k: (_r(v, 0) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
        "training_tokens": _r(sum(r["training_tokens"] for r in rows), 0),
        "output_tokens": _r(sum(r["output_tokens"] for r in rows), 0),
        "input_tokens": _r(sum(r["input_tokens"] for r in rows), 0),
    }
    # -- cost
    cpu_usd = sum(p.nodes * p.usd_per_hour for p in spec.cpu_pools) * W / 3600
    stor_usd = (
        sum(t.capacity_tbytes * t.price_usd_per_tbyte_month for t in spec.storage.tiers) * W / (30 * 86400)
        if spec.storage
        else 0.0
    )
    cpu_kwh = sum(e.cpu_w * (e.t1_s - e.t0_s) for e in run.epochs) / 3.6e6 * spec.power.pue
    led["cost"] = {
        "gpus_and_fabric_usd": _r(base_cost_usd, 2),
        "cpu_pools_usd": _r(cpu_usd, 2),
        "storage_usd": _r(stor_usd, 2),
        "total_usd": _r(base_cost_usd + cpu_usd + stor_usd, 2),
        "cpu_energy_facility_kwh": _r(cpu_kwh, 2),
        "note": "CPU pools at their usd_per_hour (hardware and operations; their energy is in the "
        "facility energy), storage at usd_per_tbyte_month for its capacity",
    }
    led["failures"] = [e for e in run.events if e["kind"] == "failure"]
    led["events"] = run.events
    return led


def _young_daly_min(run: FactoryRun, j) -> float:
    from tokenfab.factory.checkpoint import young_daly_s
    from tokenfab.factory.spec import Failures

    f = run.spec.failures or Failures()
    mtbf = 1.0 / max(f.per_gpu_s * j.gpus, 1e-30)
    return young_daly_s(j.ckpt.write_s, mtbf) / 60


def slo_attainment_pct(run: FactoryRun) -> float | None:
    """Request-weighted SLO attainment over every service."""
    att = sum(s.attained for s in run.services)
    res = sum(s.served + s.abandoned for s in run.services)
    return 100 * att / res if res else None
