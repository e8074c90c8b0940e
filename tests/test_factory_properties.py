"""Properties of the whole factory over random descriptions, failures and faults (hypothesis):

- every ingested byte is stored, filtered or dropped with a reason, or still pending;
- every token belongs to a tenant and a service (or job), and the ledger's rows add up;
- every request is served, abandoned, rejected or still waiting;
- every GPU-second of the window is booked to exactly one cause; no tenant exceeds its quota;
- a sovereign tenant's jobs and replicas only ever run on its racks (through failures and
  restarts), an exclusive one's racks host nobody else, and its data stays on its tiers.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factory_fabrics import racks_of, small
from tokenfab.factory.engine import run_factory
from tokenfab.factory.kpis import summarize
from tokenfab.factory.ledger import gpu_time
from tokenfab.factory.spec import parse_factory

FABRIC = small()
RACKS = racks_of(FABRIC)
G = 4

TRAIN = {"model": "llama3.2-1b", "seq_len": 2048, "global_batch": 32}
SERVE = {"model": "llama3.2-1b", "decode": {"tp": 1}, "input_tokens": 512, "output_tokens": 32}


@st.composite
def factories(draw):
    n_ten = draw(st.integers(1, 3))
    sovereign = draw(st.booleans())
    rack_names = sorted(RACKS)
    sov_racks = draw(st.lists(st.sampled_from(rack_names), min_size=1, max_size=2, unique=True)) if sovereign else []
    tiers = [
        {
            "name": "pfs",
            "capacity_tbytes": draw(st.sampled_from([0.05, 50.0])),
            "read_gbytes_per_s": 20,
            "write_gbytes_per_s": draw(st.sampled_from([0.05, 5.0])),
        }
    ]
    pools = [{"name": "etl", "nodes": 12}]
    tenants, workloads, jobs, sources, pipelines, services, lifecycles = [], {}, [], [], [], [], []
    for k in range(n_ten):
        name = f"t{k}"
        ten = {"name": name}
        sov = sovereign and k == 0
        if sov:
            ten["sovereignty"] = {"racks": sov_racks, "exclusive": draw(st.booleans())}
            tiers.append(
                {
                    "name": "sov",
                    "capacity_tbytes": 10,
                    "read_gbytes_per_s": 5,
                    "write_gbytes_per_s": 2,
                    "place": {"racks": sov_racks},
                }
            )
            pools.append({"name": "sov-etl", "nodes": 4, "place": {"racks": sov_racks}})
        if draw(st.booleans()):
            ten["quota_gpus"] = draw(st.sampled_from([8, 16, 32]))
        tenants.append(ten)
        quota = ten.get("quota_gpus", 64)
        cap = min(quota, 8)
        tier = "sov" if sov else "pfs"
        dataset = None
        if draw(st.booleans()):  # data in
            src = f"{name}-src"
            if draw(st.booleans()):
                sources.append(
                    {
                        "name": src,
                        "tenant": name,
                        "stream": {
                            "records_per_s": draw(st.floats(1e3, 5e5)),
                            "record_bytes": draw(st.floats(50, 2000)),
                            "diurnal": {"amplitude": draw(st.floats(0, 0.9)), "peak_h": draw(st.floats(0, 23.9))},
                        },
                    }
                )
            else:
                sources.append(
                    {
                        "name": src,
                        "tenant": name,
                        "batch": {"size_gbytes": draw(st.floats(1, 300)), "at_h": draw(st.floats(0, 2))},
                    }
                )
            dataset = f"{name}-data"
            stages = [
                {"name": f"s{i}", "mbytes_per_s_per_node": draw(st.floats(1, 100)), "keep": draw(st.floats(0.05, 1))}
                for i in range(draw(st.integers(1, 3)))
            ]
            pipelines.append(
                {
                    "name": f"{name}-etl",
                    "tenant": name,
                    "source": src,
                    "pool": "sov-etl" if sov else "etl",
                    "nodes": draw(st.integers(1, 3 if not sov else 4)),
                    "buffer_gbytes": draw(st.sampled_from([0.0, 1.0, 20.0])),
                    "stages": stages,
                    "output": {
                        "dataset": dataset,
                        "tier": tier,
                        "version_every_gbytes": draw(st.sampled_from([1, 50])),
                        "bytes_per_token": draw(st.sampled_from([4, 64, 4096])),
                    },
                }
            )
        if draw(st.booleans()):  # a training job
            dp = draw(st.sampled_from([d for d in (1, 2, 4, 8) if d <= cap]))
            workloads[f"{name}-train"] = {"training": dict(TRAIN, parallelism={"dp": dp})}
            job = {
                "name": f"{name}-job",
                "tenant": name,
                "workload": f"{name}-train",
                "arrive_h": draw(st.floats(0, 1)),
                "checkpoint_min": draw(st.sampled_from(["auto", "off", 5.0])),
            }
            if draw(st.booleans()):
                job["steps"] = draw(st.integers(50, 3000))
            if dataset and draw(st.booleans()):
                job["dataset"] = dataset
                job["max_epochs"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
            jobs.append(job)
        if draw(st.booleans()):  # a service, maybe fed by a lifecycle
            svc = f"{name}-svc"
            workloads[f"{name}-serve"] = {"inference": dict(SERVE, batch=draw(st.sampled_from([8, 64])))}
            lo = draw(st.integers(0, 1))
            services.append(
                {
                    "name": svc,
                    "tenant": name,
                    "workload": f"{name}-serve",
                    "arrivals": {"rate_per_s": draw(st.floats(0.5, 3000)), "diurnal": {"amplitude": draw(st.floats(0, 0.9))}},
                    "slo": {"ttft_s": draw(st.floats(0.01, 2)), "tpot_s": draw(st.floats(0.002, 0.1))},
                    "replicas": {"min": lo, "max": draw(st.integers(max(lo, 1), 3))},
                    "timeout_s": draw(st.sampled_from([5.0, 60.0])),
                }
            )
            if dataset and draw(st.booleans()):
                workloads[f"{name}-ft"] = {"training": dict(TRAIN, parallelism={"dp": min(2, cap)})}
                lifecycles.append(
                    {
                        "name": f"{name}-lc",
                        "tenant": name,
                        "dataset": dataset,
                        "train": {
                            "workload": f"{name}-ft",
                            "steps": draw(st.integers(20, 400)),
                            "min_dataset_gbytes": draw(st.sampled_from([0.0, 0.5])),
                        },
                        "evaluate": {"workload": f"{name}-serve", "duration_h": 0.1},
                        "deploy": svc,
                        "retrain": {"every_h": draw(st.sampled_from([0.5, 1.5]))},
                    }
                )
    faults = []
    if draw(st.booleans()):
        faults.append(
            {
                "at_h": draw(st.floats(0, 1)),
                "up_h": 3.5,
                "network": "backend",
                "loss": draw(st.sampled_from([0.0, 1e-4, 1e-3])),
                "jitter_us": draw(st.floats(1, 50)),
            }
        )
    if draw(st.booleans()):
        faults.append({"at_h": draw(st.floats(0, 1)), "storage": "pfs", "slowdown": draw(st.floats(0.05, 0.9))})
    if draw(st.booleans()):
        faults.append({"at_h": draw(st.floats(0, 2)), "down": "spine-1"})
    return {
        "name": "random",
        "fabric": "(in memory)",
        "window_h": draw(st.floats(1, 3.5)),
        "seed": draw(st.integers(0, 99)),
        "tick_min": draw(st.sampled_from([10, 20])),
        "request_bin_s": draw(st.sampled_from([5, 30])),
        "network": {"model": "analytical"},
        "tenants": tenants,
        "cpu_pools": pools,
        "storage": {"tiers": tiers},
        "sources": sources,
        "pipelines": pipelines,
        "workloads": workloads,
        "jobs": jobs,
        "services": services,
        "lifecycles": lifecycles,
        "faults": faults,
        "checkpoint": {"interval_min": "auto"},
        "failures": {
            "scale": draw(st.sampled_from([0.0, 500.0, 3000.0])),
            "repair_h": draw(st.floats(0.05, 1.0)),
            "restart_min": draw(st.floats(0.5, 10)),
            "network_share": draw(st.sampled_from([0.0, 0.3])),
        },
    }


def allowed_servers(spec_dict, tenant: str) -> np.ndarray:
    """Servers a tenant may use, from the description and the fabric's rack column (independent
    of the engine's own bookkeeping)."""
    n = sum(len(v) for v in RACKS.values())
    ok = np.ones(n, dtype=bool)
    for t in spec_dict["tenants"]:
        sov = t.get("sovereignty")
        if not sov:
            continue
        mine = np.zeros(n, dtype=bool)
        for r in sov["racks"]:
            mine[RACKS[r]] = True
        if t["name"] == tenant:
            ok &= mine
        elif sov["exclusive"]:
            ok &= ~mine
    return ok


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=factories())
def test_conservation_and_sovereignty(d):
    spec = parse_factory(d)
    run = run_factory(spec, FABRIC)
    s = summarize(run)
    L = s["ledger"]
    W = spec.window_s

    # bytes: ingested = stored + filtered + dropped + pending, per pipeline and in total
    if run.data is not None:
        b = run.data.balance()
        assert b["unaccounted_bytes"] == pytest.approx(0.0, abs=1e-6 * max(b["ingested_bytes"], 1.0))
        for p in run.data.pipelines:
            parts = p.stored + sum(p.filtered.values()) + sum(p.dropped.values()) + p.pending
            assert p.ingested == pytest.approx(parts, rel=1e-9, abs=1e-3)
            assert all(k.startswith(("backpressure", "tier")) or "full" in k for k in p.dropped)
            assert min([p.stored, p.pending, *p.dropped.values(), *p.filtered.values()]) >= -1e-6
        for t in run.storage.tiers.values():
            assert t.used_bytes <= t.capacity_bytes * (1 + 1e-9) + 1.0

    # tokens: every one attributed to a tenant and a service or job, rows add up to the totals
    tenants = {t["name"] for t in d["tenants"]}
    rows = L["tokens"]["rows"]
    assert all(r["tenant"] in tenants and r["service"] for r in rows)
    t = s["totals"]
    assert sum(r["training_tokens"] + r["output_tokens"] for r in rows) == pytest.approx(t["tokens"], rel=1e-6, abs=2)
    for svc in run.services:
        reps = [j for j in run.jobs if j.service == svc.name]
        assert sum(j.acc.tokens for j in reps) == pytest.approx(svc.output_tokens, rel=1e-9, abs=1e-3)
        assert svc.output_tokens == pytest.approx(svc.served * svc.infer.output_tokens, rel=1e-9)
        # requests: served + abandoned + rejected + waiting = arrived
        assert svc.arrived == pytest.approx(svc.served + svc.abandoned + svc.rejected + svc.backlog, rel=1e-9, abs=1e-6)
        assert 0 <= svc.attained <= svc.served + 1e-6
    for j in run.jobs:
        if j.req.target_steps is not None:
            assert j.acc.steps <= j.req.target_steps * (1 + 1e-9) + 1e-6

    # GPU time: every GPU-second booked to exactly one cause
    gt = gpu_time(run)
    assert sum(gt.values()) == pytest.approx(FABRIC.design["gpus"] * W, rel=1e-9)
    assert min(gt.values()) >= -1e-6 * W

    # quotas: a tenant never holds more GPUs at once than its quota
    for ten in d["tenants"]:
        if "quota_gpus" not in ten:
            continue
        ev = sorted(
            (t, sign * len(g))
            for j in run.jobs
            if j.tenant == ten["name"]
            for a, b, g in j.history
            for t, sign in ((a, 1), (W if b is None else b, -1))
        )
        held = np.cumsum([x for _, x in sorted(ev, key=lambda e: (e[0], e[1]))]) if ev else [0]
        assert max(held) <= ten["quota_gpus"]

    # sovereignty: placements only on allowed servers, through failures and restarts
    for j in run.jobs:
        ok = allowed_servers(d, j.tenant)
        for _, _, gpus in j.history:
            assert ok[np.unique(gpus // G)].all(), f"{j.name} of {j.tenant} placed outside its servers"
    for p in run.data.pipelines if run.data else []:
        sov = next((x for x in d["tenants"] if x["name"] == p.spec.tenant and x.get("sovereignty")), None)
        if sov:
            assert p.spec.output.tier == "sov" and p.spec.pool == "sov-etl"
    for j in run.jobs:
        sov = next((x for x in d["tenants"] if x["name"] == j.tenant and x.get("sovereignty")), None)
        if sov and j.ckpt.tier is not None:
            assert j.ckpt.tier == "sov"
