"""A simulated week of a 4,096-GPU AI factory (512 x 8 H100, rail-optimized, 8 scalable units,
with frontend and storage networks) and ten tenants, all seven layers at once: each tenant streams
data through a pipeline into a versioned dataset, runs a lifecycle (fine-tune, evaluate, register,
deploy, retrain daily) feeding an inference service with diurnal Poisson arrivals and autoscaled
replicas, and submits training jobs over the week; two tenants are sovereign (pinned to their own
scalable unit); failures at Llama 3's published rate. Prints wall time, peak memory and the ledger's
headline figures. Target: < 2 minutes on 2 cores.

    python benchmarks/factory_week.py [--days 7] [--network simulator|analytical] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from factory_common import timed_factory

WORKLOADS = {
    "sft-8b": {"training": {"model": "llama3-8b", "seq_len": 4096, "global_batch": 128, "parallelism": {"tp": 2, "dp": 16}}},
    "sft-70b": {
        "training": {
            "model": "llama3-70b",
            "seq_len": 4096,
            "global_batch": 64,
            "recompute": "full",
            "parallelism": {"tp": 8, "pp": 2, "dp": 4},
        }
    },
    "pretrain-70b": {
        "training": {
            "model": "llama3-70b",
            "seq_len": 8192,
            "global_batch": 512,
            "parallelism": {"tp": 8, "pp": 4, "dp": 8, "vpp": 2},
        }
    },
    "moe-mixtral": {
        "training": {"model": "mixtral-8x7b", "seq_len": 4096, "global_batch": 256, "parallelism": {"tp": 1, "dp": 64, "ep": 8}}
    },
    "pretrain-8b": {"training": {"model": "llama3-8b", "seq_len": 8192, "global_batch": 512, "parallelism": {"tp": 2, "dp": 64}}},
    "ft-1b": {"training": {"model": "llama3.2-1b", "seq_len": 4096, "global_batch": 256, "parallelism": {"dp": 16}}},
    "serve-1b": {
        "inference": {"model": "llama3.2-1b", "decode": {"tp": 1}, "batch": 64, "input_tokens": 1024, "output_tokens": 32}
    },
    "serve-8b": {
        "inference": {"model": "llama3-8b", "decode": {"tp": 2}, "batch": 48, "input_tokens": 1500, "output_tokens": 300}
    },
    "serve-70b": {
        "inference": {
            "model": "llama3-70b",
            "precision": "fp8",
            "decode": {"tp": 8},
            "batch": 64,
            "input_tokens": 2000,
            "output_tokens": 400,
        }
    },
}
# (workload, weight, hours)
MIX = [("sft-8b", 40, (1, 6)), ("sft-70b", 20, (2, 10)), ("pretrain-70b", 6, (12, 48)), ("moe-mixtral", 10, (4, 24))]


def factory(days: float, seed: int, network: str, n_tenants: int = 10, jobs_per_day: int = 30) -> dict:
    rng = np.random.default_rng(seed)
    W = 24.0 * days
    tenants, sources, pipelines, lifecycles, services, jobs = [], [], [], [], [], []
    pools = [{"name": "etl", "nodes": 64}]
    tiers = [
        {"name": "pfs", "kind": "parallel-fs", "capacity_tbytes": 4000, "read_gbytes_per_s": 1500, "write_gbytes_per_s": 800},
        {
            "name": "objects",
            "kind": "object-store",
            "capacity_tbytes": 20000,
            "read_gbytes_per_s": 300,
            "write_gbytes_per_s": 150,
        },
    ]
    sites = {}
    for k in range(n_tenants):
        name = f"tenant-{k}"
        t = {"name": name, "quota_gpus": 1024}
        sov = k < 2
        if sov:  # sovereign: a scalable unit of its own (64 servers, 512 GPUs)
            site = f"zone-{k}"
            sites[site] = {"sus": [8 - k]}
            t = {"name": name, "quota_gpus": 512, "sovereignty": {"site": site, "exclusive": True}}
            tiers.append(
                {
                    "name": f"pfs-{k}",
                    "capacity_tbytes": 500,
                    "read_gbytes_per_s": 200,
                    "write_gbytes_per_s": 100,
                    "place": {"site": site},
                }
            )
            pools.append({"name": f"etl-{k}", "nodes": 8, "place": {"site": site}})
        tenants.append(t)
        tier = f"pfs-{k}" if sov else "pfs"
        # a long-running pre-training job per tenant, reading its own data
        jobs.append(
            {
                "name": f"{name}-pretrain",
                "tenant": name,
                "workload": "pretrain-8b" if sov else "pretrain-70b",
                "arrive_h": 0.0,
                "dataset": f"{name}-data",
                "max_epochs": 1000,
            }
        )
        src = f"{name}-telemetry"
        sources.append(
            {
                "name": src,
                "tenant": name,
                "stream": {
                    "records_per_s": float(rng.uniform(5e4, 2e5)),
                    "record_bytes": float(rng.uniform(200, 600)),
                    "diurnal": {"amplitude": float(rng.uniform(0.2, 0.6)), "peak_h": float(rng.uniform(9, 17))},
                },
            }
        )
        pipelines.append(
            {
                "name": f"{name}-etl",
                "tenant": name,
                "source": src,
                "pool": f"etl-{k}" if sov else "etl",
                "nodes": 8,
                "buffer_gbytes": 200,
                "stages": [
                    {"name": "ingest", "kind": "ingest", "mbytes_per_s_per_node": 80},
                    {"name": "transform", "mbytes_per_s_per_node": 40, "keep": 0.5},
                    {"name": "curate", "kind": "curate", "mbytes_per_s_per_node": 60, "keep": 0.6},
                ],
                "output": {"dataset": f"{name}-data", "tier": tier, "version_every_h": 12},
            }
        )
        svc = f"{name}-svc"
        serve = ["serve-1b", "serve-8b", "serve-70b"][k % 3]
        rate = {"serve-1b": 300.0, "serve-8b": 20.0, "serve-70b": 6.0}[serve]
        services.append(
            {
                "name": svc,
                "tenant": name,
                "workload": serve,
                "arrivals": {
                    "rate_per_s": rate * float(rng.uniform(0.5, 1.5)),
                    "diurnal": {"amplitude": 0.6, "peak_h": float(rng.uniform(10, 16))},
                },
                "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
                "replicas": {"min": 1, "max": 12},
            }
        )
        if serve == "serve-1b":
            lifecycles.append(
                {
                    "name": f"{name}-lc",
                    "tenant": name,
                    "dataset": f"{name}-data",
                    "train": {"workload": "ft-1b", "steps": 3000, "min_dataset_gbytes": 50},
                    "evaluate": {"workload": "serve-1b", "duration_h": 0.5},
                    "deploy": svc,
                    "retrain": {"every_h": 24},
                }
            )
    w = np.array([m[1] for m in MIX], dtype=float)
    n_jobs = int(jobs_per_day * days)
    kinds = rng.choice(len(MIX), size=n_jobs, p=w / w.sum())
    arrive = np.sort(rng.uniform(0, W - 2, size=n_jobs))
    for i, (kk, a) in enumerate(zip(kinds.tolist(), arrive.tolist())):
        wl, _, (lo, hi) = MIX[kk]
        ten = int(rng.integers(n_tenants))
        if ten < 2 and wl == "pretrain-70b":  # keep sovereign jobs inside their unit
            wl = "sft-70b"
        jobs.append(
            {
                "name": f"j{i:03d}-{wl}",
                "tenant": f"tenant-{ten}",
                "workload": wl,
                "arrive_h": round(a, 4),
                "duration_h": round(float(rng.uniform(lo, hi)), 3),
                "priority": int(rng.integers(0, 3)),
            }
        )
    return {
        "name": "factory-week",
        "fabric": "(in memory)",
        "window_h": W,
        "seed": seed,
        "tick_min": 10,
        "request_bin_s": 10,
        "network": {"model": network},
        "sites": sites,
        "tenants": tenants,
        "cpu_pools": pools,
        "storage": {"tiers": tiers},
        "sources": sources,
        "pipelines": pipelines,
        "workloads": WORKLOADS,
        "jobs": jobs,
        "lifecycles": lifecycles,
        "services": services,
        "checkpoint": {"interval_min": "auto"},
        "failures": {},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--network", default="simulator", choices=("simulator", "analytical"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    r = timed_factory(
        {
            "name": "factory-4096",
            "cluster": {"servers": 512, "gpus_per_server": 8},
            "fabric": {"architecture": "rail-optimized", "switch_model": "CX864E-N"},
            "frontend": {"speed_gbps": 200, "switch_model": "CX864E-N"},
            "storage": {"speed_gbps": 400, "switch_model": "CX864E-N", "storage_nodes": 32},
        },
        factory(args.days, args.seed, args.network),
    )
    run, spec = r.run, r.spec
    t, L = r.summary["totals"], r.summary["ledger"]
    print(f"factory week: {args.days:g} days, {t['gpus']:,} GPUs, {len(spec.tenants)} tenants, network model {args.network}")
    print(r.header())
    print(
        f"  jobs {t['jobs']} (done {t['jobs_done']}), services {len(run.services)} with "
        f"{sum(len(x.replicas) for x in run.services):,} replica starts, {t['models_deployed']} model deployments, "
        f"{t['interruptions']} failures"
    )
    b = L["data"]["balance"]
    print(
        f"  data: {b['ingested_bytes'] / 1e12:,.1f} TB ingested, {b['stored_bytes'] / 1e12:,.1f} TB stored, "
        f"{b['dropped_bytes'] / 1e12:,.2f} TB dropped, {b['pending_bytes'] / 1e9:,.1f} GB pending "
        f"(unaccounted {b['unaccounted_bytes']:.0f} B)"
    )
    print(
        f"  tokens {t['tokens']:,.0f} (training {t['training_tokens']:,.0f}, inference output {t['output_tokens']:,.0f}); "
        f"{t['requests_served']:,.0f} requests, SLO attainment {t['slo_attainment_pct']:.2f}%"
    )
    print("  GPU time: " + ", ".join(f"{k.replace('_', ' ')} {v['pct']:.1f}%" for k, v in L["gpu_time"].items()))
    print(
        f"  energy {t['energy_facility_kwh']:,.0f} kWh, cost ${t['cost_total_usd']:,.0f}, "
        f"${t['usd_per_mtoken_total']:.4f}/M tokens"
    )
    print(r.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
