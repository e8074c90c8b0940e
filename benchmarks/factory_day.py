"""A one-day factory window on a 4,096-GPU fabric (512 x 8 H100, rail-optimized, 8 scalable
units) with a few hundred jobs from ten tenants: training (dense and MoE) and inference services
arriving over the day. Prints wall time, peak memory and the headline KPIs.
Target: < 2 minutes on 2 cores with the flow simulator as the network model.

    python benchmarks/factory_day.py [--jobs 300] [--network simulator|analytical] [--seed 1]
                                     [--policy topology-aware|first-fit]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from factory_common import timed_factory

from tokenfab.factory.report import isolation

WORKLOADS = {
    "pretrain-8b": {"training": {"model": "llama3-8b", "seq_len": 8192, "global_batch": 256, "parallelism": {"tp": 1, "dp": 64}}},
    "sft-8b": {"training": {"model": "llama3-8b", "seq_len": 4096, "global_batch": 64, "parallelism": {"tp": 2, "dp": 8}}},
    "pretrain-70b": {
        "training": {
            "model": "llama3-70b",
            "seq_len": 8192,
            "global_batch": 512,
            "parallelism": {"tp": 8, "pp": 4, "dp": 8, "vpp": 2},
        }
    },
    "sft-70b": {
        "training": {
            "model": "llama3-70b",
            "seq_len": 4096,
            "global_batch": 64,
            "recompute": "full",
            "parallelism": {"tp": 8, "pp": 2, "dp": 2},
        }
    },
    "moe-mixtral": {
        "training": {"model": "mixtral-8x7b", "seq_len": 4096, "global_batch": 256, "parallelism": {"tp": 1, "dp": 64, "ep": 8}}
    },
    "moe-deepseek": {
        "training": {
            "model": "deepseek-v3",
            "precision": "fp8",
            "seq_len": 4096,
            "global_batch": 1024,
            "parallelism": {"tp": 1, "pp": 8, "dp": 64, "ep": 64},
            "overlap": {"ep": 0.9},
        }
    },
    "chat-70b": {
        "inference": {
            "model": "llama3-70b",
            "precision": "fp8",
            "decode": {"tp": 8, "replicas": 2},
            "batch": 64,
            "input_tokens": 2000,
            "output_tokens": 500,
        }
    },
    "chat-8b": {
        "inference": {
            "model": "llama3-8b",
            "decode": {"tp": 1, "replicas": 8},
            "batch": 64,
            "input_tokens": 1000,
            "output_tokens": 300,
        }
    },
    "deepseek-serve": {
        "inference": {
            "model": "deepseek-v3",
            "precision": "fp8",
            "mode": "disaggregated",
            "prefill": {"dp": 32, "ep": 32},
            "decode": {"dp": 64, "ep": 64},
            "batch": 64,
            "input_tokens": 3000,
            "output_tokens": 600,
            "micro_batches": 2,
            "redundant_experts": 32,
        }
    },
}
# (workload, weight, duration range in hours)
MIX = [
    ("sft-8b", 30, (0.5, 3)),
    ("pretrain-8b", 10, (2, 8)),
    ("sft-70b", 20, (1, 4)),
    ("pretrain-70b", 6, (4, 12)),
    ("moe-mixtral", 10, (1, 6)),
    ("moe-deepseek", 2, (4, 10)),
    ("chat-8b", 12, (2, 12)),
    ("chat-70b", 8, (2, 12)),
    ("deepseek-serve", 2, (6, 16)),
]


def factory_spec(n_jobs: int, network: str, seed: int, policy: str = "topology-aware") -> dict:
    rng = np.random.default_rng(seed)
    w = np.array([m[1] for m in MIX], dtype=float)
    kinds = rng.choice(len(MIX), size=n_jobs, p=w / w.sum())
    arrive = np.sort(rng.uniform(0, 22, size=n_jobs))
    tenants = [f"tenant-{k}" for k in range(10)]
    jobs = []
    for i, (k, t) in enumerate(zip(kinds.tolist(), arrive.tolist())):
        name, _, (lo, hi) = MIX[k]
        jobs.append(
            {
                "name": f"j{i:03d}-{name}",
                "tenant": tenants[int(rng.integers(10))],
                "workload": name,
                "arrive_h": round(t, 4),
                "duration_h": round(float(rng.uniform(lo, hi)), 3),
                "priority": int(rng.integers(0, 3)),
            }
        )
    return {
        "name": "factory-day",
        "fabric": "(in memory)",
        "window_h": 24,
        "seed": seed,
        "network": {"model": network},
        "scheduler": {"policy": policy},
        "tenants": [{"name": t} for t in tenants],
        "workloads": WORKLOADS,
        "jobs": jobs,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--network", default="simulator", choices=("simulator", "analytical"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policy", default="topology-aware", choices=("topology-aware", "first-fit"))
    args = ap.parse_args()
    r = timed_factory(
        {
            "name": "factory-4096",
            "cluster": {"servers": 512, "gpus_per_server": 8},
            "fabric": {"architecture": "rail-optimized", "switch_model": "CX864E-N"},
        },
        factory_spec(args.jobs, args.network, args.seed, args.policy),
    )
    t = r.summary["totals"]
    iso = isolation(r.summary)
    print(
        f"factory day: {args.jobs} jobs, {t['gpus']:,} GPUs, {t['window_h']:g} h, network model {args.network}, "
        f"{args.policy} placement"
    )
    print(r.header())
    print(f"  jobs done {t['jobs_done']}, running at end {t['jobs_running_at_end']}, queued at end {t['jobs_queued_at_end']}")
    print(f"  tokens {t['tokens']:,.0f} (training {t['training_tokens']:,.0f}, output {t['output_tokens']:,.0f})")
    print(
        f"  GPU allocation {t['gpu_allocation_pct']:.1f}%, utilisation {t['gpu_utilization_pct']:.1f}%, "
        f"network idle {t['network_idle_gpu_h']:,.0f} GPU-h ({t['network_idle_pct_of_allocated']:.2f}% of allocated)"
    )
    print(f"  mean slowdown from sharing {iso['mean_slowdown']}, worst {iso['worst_slowdown']}")
    print(
        f"  energy {t['energy_facility_kwh']:,.0f} kWh, ${t['usd_per_gpu_hour']:.3f}/GPU-h, "
        f"${t['usd_per_mtoken']:.4f}/M tokens, {t['tokens_per_kwh']:,.0f} tokens/kWh"
    )
    print(r.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
