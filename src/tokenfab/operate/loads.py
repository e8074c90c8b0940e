"""Which links each job loads, and how hard: the simulator's flow-to-link mapping.

A job's traffic pattern is its data-parallel ring all-reduce on its placed GPUs (all-to-all for
expert-parallel jobs, whose dispatch crosses rails and so the spines), routed by the flow simulator
(ECMP hashing per QP, as the factory runs it); the utilisation of every link direction while that
collective runs, times the share of time the job spends communicating (`duty`), is the
job's average load on that direction. Jobs inside one server (NVLink only) load no fabric link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.factory.accounting import Cause

PATTERN_BYTES = 256 * 2**20  # large enough to be bandwidth-bound on every fabric


@dataclass(frozen=True)
class JobLoad:
    name: str
    gpus: np.ndarray  # global GPU ids
    start_s: float
    end_s: float
    duty: float  # share of wall time its collectives keep the network busy
    kind: str = "training"
    collective: str = "all_reduce"  # all_to_all for expert-parallel (MoE) jobs


def job_patterns(fabric: Fabric, jobs: list[JobLoad], routing: str = "ecmp", seed: int = 0) -> np.ndarray:
    """(jobs x 2*links) utilisation of each link direction (a->b at 2i, b->a at 2i+1) while the job's
    all-reduce runs."""
    from tokenfab.sim.api import Simulator
    from tokenfab.sim.routing import Routing

    sim = Simulator(fabric)
    n = 2 * len(fabric.links)
    out = np.zeros((len(jobs), n))
    gps = sim.net.gpus_per_server
    cache: dict[bytes, np.ndarray] = {}
    for k, j in enumerate(jobs):
        g = np.unique(np.asarray(j.gpus, dtype=np.int64))
        if len(g) < 2 or len(np.unique(g // gps)) < 2:
            continue
        key = j.collective.encode() + g.tobytes()
        if key not in cache:
            algo = "ring" if j.collective == "all_reduce" else "auto"
            res = sim.collective_time(
                j.collective, g, PATTERN_BYTES, algorithm=algo, routing=Routing(mode=routing, qps=1, seed=seed)
            )
            cache[key] = np.clip(res.link_utilization()[:n], 0.0, 1.0)
        out[k] = cache[key]
    return out


def job_links(fabric: Fabric, jobs: list[JobLoad], patterns: np.ndarray) -> dict[str, dict[str, float]]:
    """For each job, the links it loads (link id -> utilisation share while it communicates)."""
    from tokenfab.operate.telemetry import Ports

    ports = Ports.of(fabric)
    by_row = dict(zip(ports.link.tolist(), ports.link_id.tolist()))
    out: dict[str, dict[str, float]] = {}
    for k, j in enumerate(jobs):
        per_link = patterns[k].reshape(-1, 2).max(axis=1)
        rows = np.flatnonzero(per_link > 1e-6)
        out[j.name] = {by_row[int(r)]: round(float(per_link[r]), 4) for r in rows}
    return out


def from_factory(run) -> list[JobLoad]:
    """Network-using jobs of a factory run (its public FactoryRun: jobs with their placement history)
    as loads: each placement span a load; duty = exposed network share of its GPU time, at least 0.2
    (collectives hidden behind compute still move their bytes)."""
    out = []
    for j in run.jobs:
        for i, (t0, t1, gpus) in enumerate(j.history):
            end = t1 if t1 is not None else run.spec.window_h * 3600.0
            exposed = j.acc.gpu_s_by_cause[Cause.NETWORK] / j.acc.gpu_s if j.acc.gpu_s else 0.0
            duty = float(min(0.9, max(0.2, exposed)))
            name = j.name if len(j.history) == 1 else f"{j.name}#{i + 1}"
            par = j.workload.training or j.workload.inference
            ep = _ep(par)
            out.append(
                JobLoad(name, np.asarray(gpus), float(t0), float(end), duty, j.kind, "all_to_all" if ep > 1 else "all_reduce")
            )
    return out


def _ep(w) -> int:
    """Expert parallelism of a training or inference workload (1 when it has none)."""
    for part in (getattr(w, "parallelism", None), getattr(w, "decode", None), getattr(w, "prefill", None)):
        ep = getattr(part, "ep", None) if part is not None else None
        if ep:
            return int(ep)
    return 1
