"""The simulator's Python API: one collective, a size sweep, or several jobs sharing the fabric.

See the package docstring (`tokenfab.sim`) for examples. Everything here is pure: the same fabric,
arguments and seed give the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.sim import engine
from tokenfab.sim.collectives import FlowPlan, build
from tokenfab.sim.faults import Faults, goodput_efficiency, harmonic, timeouts_per_packet
from tokenfab.sim.network import Network, SimParams
from tokenfab.sim.routing import Routing, route, spray_bundles
from tokenfab.sim.sizes import DTYPES, busbw_factor, collective_name, nccl_sizes

GB = 1e9  # nccl-tests reports GB/s as 1e9 bytes per second


# ---------------------------------------------------------------------------------------------
# choosing GPUs
def _server_index(net: Network, name: str, text: str) -> int:
    m = re.fullmatch(r"srv-(\d+)", name.strip())
    if not m or not 1 <= int(m.group(1)) <= net.n_trays:
        raise InputError(f"{text!r}: no server {name!r}; servers are srv-1 .. srv-{net.n_trays}", "servers")
    return int(m.group(1)) - 1


def _parse_servers(net: Network, items) -> list[int]:
    out: list[int] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if ".." in part:
                lo, hi = part.split("..", 1)
                hi = hi if hi.startswith("srv-") else f"srv-{hi}"
                a, z = _server_index(net, lo, part), _server_index(net, hi, part)
                step = 1 if z >= a else -1
                out.extend(range(a, z + step, step))
            else:
                out.append(_server_index(net, part, part))
    return out


def select_gpus(net: Network, gpus=None, servers=None) -> np.ndarray:
    """Global GPU ids in rank order.

    gpus: an int N (the first N GPUs: srv-1's, then srv-2's, ...), or a list of global GPU ids
    (server * gpus_per_server + local), of names "srv-3" (all its GPUs) or "srv-3:gpu2".
    servers: names or ranges ("srv-1..srv-16", "srv-1,srv-17,srv-2"); all GPUs of each, in order.
    """
    g = net.gpus_per_tray  # names are servers (compute trays), whatever the NVLink domain
    if servers is not None and gpus is not None and not isinstance(gpus, (int, np.integer)):
        raise InputError("give either a GPU list or servers (optionally with a GPU count), not both", "gpus")
    if servers is not None:
        if isinstance(servers, str):
            servers = [servers]
        idx = _parse_servers(net, servers)
        if not idx:
            raise InputError("the server list is empty", "servers")
        if len(set(idx)) != len(idx):
            raise InputError("a server appears twice in the server list", "servers")
        ids = (np.asarray(idx)[:, None] * g + np.arange(g)[None, :]).ravel()
        if gpus is not None:
            if not 1 <= int(gpus) <= len(ids):
                raise InputError(f"{gpus} GPUs asked, the {len(idx)} servers given have {len(ids)}", "gpus")
            ids = ids[: int(gpus)]
        return ids
    if gpus is None:
        return np.arange(net.n_gpus)
    if isinstance(gpus, (int, np.integer)):
        n = int(gpus)
        if n < 1:
            raise InputError(f"the group needs at least 1 GPU, got {n}", "gpus")
        if n > net.n_gpus:
            raise InputError(
                f"a group of {n:,} GPUs is larger than the cluster ({net.n_gpus:,} GPUs on {net.n_trays:,} servers)", "gpus"
            )
        return np.arange(n)
    gpu_ids: list[int] = []
    for item in gpus:
        if isinstance(item, (int, np.integer)):
            if not 0 <= int(item) < net.n_gpus:
                raise InputError(f"GPU id {item} is outside 0 .. {net.n_gpus - 1}", "gpus")
            gpu_ids.append(int(item))
            continue
        text = str(item)
        name, _, local = text.partition(":")
        s = _server_index(net, name, text)
        if local:
            m = re.fullmatch(r"gpu(\d+)", local)
            if not m or int(m.group(1)) >= g:
                raise InputError(f"{text!r}: GPUs of a server are gpu0 .. gpu{g - 1}", "gpus")
            gpu_ids.append(s * g + int(m.group(1)))
        else:
            gpu_ids.extend(range(s * g, s * g + g))
    if len(set(gpu_ids)) != len(gpu_ids):
        raise InputError("a GPU appears twice in the group", "gpus")
    return np.asarray(gpu_ids, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# one collective, routed: incidence matrix, per-group sizes, latency
@dataclass
class Prepared:
    plan: FlowPlan
    A: sp.csr_matrix  # groups x resources
    stall_per_byte: np.ndarray  # per group, from loss timeouts
    latency_s: float
    path_latency_s: float  # slowest routed one-way path
    loss_p_max: float
    cap: np.ndarray  # capacities for this routing (sprayed bundles: the representative's)
    alias: tuple[np.ndarray, np.ndarray] | None  # sprayed bundle members and their representatives

    def run(self, size_bytes: np.ndarray, **kw) -> engine.EngineResult:
        return engine.run(self.A, self.cap, size_bytes, stall_per_byte=self.stall_per_byte, alias=self.alias, **kw)

    @property
    def bytes_per_S(self) -> np.ndarray:
        return self.plan.group_bytes


def prepare(net: Network, plan: FlowPlan, routing: Routing) -> Prepared:
    p = net.params
    tr = plan.net
    rt = route(net, routing, tr)
    G = plan.n_groups
    # loss: retransmissions inflate wire bytes, tail losses stall (faults.py)
    rtt = 2 * (p.net_step_s + rt.latency_s)
    nic_bytes_per_s = net.fabric.design.link_speed_gbps * 1e9 / 8
    window = np.ceil(nic_bytes_per_s * rtt / p.mtu_bytes)
    loss_p = rt.loss_p
    if net.faults.loss_scope == "path" and len(tr):  # one end-to-end probability for every transfer
        assert not isinstance(net.faults.loss, dict)  # Faults rejects per-link loss with path scope
        loss_p = np.full(len(tr), float(net.faults.loss))
    eta = goodput_efficiency(loss_p, window, net.faults.recovery) if len(tr) else np.ones(0)
    if len(eta) and (eta <= 0).any():
        raise InputError("packet loss this high leaves no goodput", "loss")
    grp_of_t = tr.grp
    coef = rt.coef / eta[rt.t] if len(rt.t) else rt.coef
    rows = [grp_of_t[rt.t], plan.nvl_grp, plan.nvl_grp]
    cols = [rt.res, net.nvl_out(plan.nvl_src), net.nvl_in(plan.nvl_dst)]
    vals = [coef, plan.nvl_w, plan.nvl_w]
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(G, net.n_res)).tocsr()
    A.sum_duplicates()
    stall: np.ndarray = np.zeros(G)
    if len(tr) and loss_p.any():
        per_t = tr.w * timeouts_per_packet(loss_p, window, net.faults.recovery) * net.faults.rto_s / p.mtu_bytes
        stall = np.bincount(grp_of_t, weights=per_t, minlength=G)
    path = float(rt.latency_s.max()) if len(tr) else 0.0
    f = net.faults
    net_lat = p.net_step_s + path + f.jitter_s * harmonic(plan.net_hops_per_step)
    lat = p.base_latency_s + plan.intra_steps * p.nvlink_step_s + plan.inter_steps * net_lat
    cap, alias = net.cap, None
    if routing.mode == "spray":
        members, reps, cap = spray_bundles(net)
        alias = (members, reps)
    return Prepared(plan, A, stall, lat, path, float(loss_p.max()) if len(tr) else 0.0, cap, alias)


@dataclass
class CollectiveResult:
    """One collective at one size. Times in seconds, bandwidths in GB/s (1e9 bytes/s)."""

    collective: str
    algorithm: str
    routing: str
    seed: int
    n_ranks: int
    n_servers: int
    size_bytes: int  # as nccl-tests prints it
    count: int
    bus_bytes: int  # S
    time_s: float
    latency_s: float
    bandwidth_s: float
    group_finish_s: np.ndarray  # per coupled flow, bandwidth part only
    group_labels: list[str]
    connections: int  # network connections (before QPs and planes)
    run: engine.EngineResult = field(repr=False)
    scale: float = field(repr=False)  # run times x scale = times at this size
    net: Network = field(repr=False)

    @property
    def algbw_GBps(self) -> float:
        return self.bus_bytes / self.time_s / GB if self.time_s > 0 else 0.0

    @property
    def busbw_GBps(self) -> float:
        return self.algbw_GBps * busbw_factor(self.collective, self.n_ranks)

    def gpu_idle(self, compute_s: float) -> float:
        """Share of a step (compute, then this collective, no overlap) the GPUs wait on the network."""
        return self.time_s / (compute_s + self.time_s)

    def link_utilization(self) -> np.ndarray:
        """Mean utilization (0..1 of usable capacity) of every resource while bytes move."""
        span = self.run.makespan_s
        cap = self.net.cap
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(cap > 0, self.run.resource_bytes / (cap * span), 0.0) if span > 0 else np.zeros(len(cap))
        return u

    def timeline(self) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
        """(event times in s at this size, per-interval load in bytes/s, resource ids recorded; None: none recorded)."""
        return self.run.event_s * self.scale, self.run.loads, self.run.recorded


def _resolve_algorithm(collective: str, algorithm: str) -> list[str]:
    if algorithm not in ("auto", "ring", "tree", "nvls"):
        raise InputError(f"unknown algorithm {algorithm!r}; use auto, ring, tree or nvls", "algorithm")
    if collective != "all_reduce":
        return ["ring"]
    return ["ring", "tree", "nvls"] if algorithm == "auto" else [algorithm]


def _usable(net: Network, algos: list[str], gpus: np.ndarray, explicit: bool) -> list[str]:
    """Drop what auto cannot use here: tree inside one server, NVLS across servers or without it."""
    if explicit:
        return algos
    multi = len(np.unique(np.asarray(gpus) // net.gpus_per_server)) > 1
    out = [a for a in algos if (a != "tree" or multi) and (a != "nvls" or (not multi and net.nvls))]
    return out or ["ring"]


class Simulator:
    """Routes and runs collectives on one fabric under one set of faults and parameters.

    Reuse one Simulator for many calls: shortest paths are computed once."""

    def __init__(self, fabric: Fabric, params: SimParams | None = None, faults: Faults | None = None):
        self.fabric = fabric
        self.net = Network(fabric, params, faults)

    def gpus(self, gpus=None, servers=None) -> np.ndarray:
        return select_gpus(self.net, gpus, servers)

    def _ids(self, gpus) -> np.ndarray:
        """GPU ids from an id array, or any spec select_gpus takes."""
        if isinstance(gpus, np.ndarray) and np.issubdtype(gpus.dtype, np.integer):
            return select_gpus(self.net, [int(x) for x in gpus]) if len(gpus) else gpus
        return select_gpus(self.net, gpus)

    def prepare(self, collective: str, gpus, algorithm: str = "ring", routing: Routing | None = None, pairs=None) -> Prepared:
        plan = build(self.net, collective_name(collective), self._ids(gpus), algorithm, pairs)
        return prepare(self.net, plan, routing or Routing())

    def sweep(
        self,
        collective: str,
        gpus,
        sizes_bytes: list[int],
        *,
        algorithm: str = "auto",
        routing: Routing | None = None,
        dtype: str = "float",
        record_links: bool = False,
        pairs=None,
    ) -> list[CollectiveResult]:
        """nccl-tests style: one result per size. Rates do not depend on the size (every flow of a
        collective scales with S), so each algorithm is simulated once and scaled."""
        coll = collective_name(collective)
        routing = routing or Routing()
        if dtype not in DTYPES:
            raise InputError(f"unknown data type {dtype!r}; use one of {', '.join(DTYPES)}", "dtype")
        tb = DTYPES[dtype]
        gpus = self._ids(gpus)
        n = len(gpus)
        runs = {}
        algos = _resolve_algorithm(coll, algorithm)
        algos = _usable(self.net, algos, gpus, explicit=algorithm != "auto")
        for algo in algos:
            prep = self.prepare(coll, gpus, algo, routing, pairs)
            ref = 2.0**30
            rec = self._recorded() if record_links else None
            res = prep.run(prep.bytes_per_S * ref, record=rec)
            runs[algo] = (prep, res, ref)
        out = []
        for size in sizes_bytes:
            sz = nccl_sizes(coll, int(size), n, tb)
            best = None
            for prep, res, ref in runs.values():
                scale = sz.bus_bytes / ref
                bw_s = res.makespan_s * scale
                t = prep.latency_s + bw_s
                r = CollectiveResult(
                    coll,
                    prep.plan.algorithm,
                    routing.mode,
                    routing.seed,
                    n,
                    prep.plan.n_servers,
                    sz.size_bytes,
                    sz.count,
                    sz.bus_bytes,
                    t,
                    prep.latency_s,
                    bw_s,
                    res.finish_s * scale,
                    prep.plan.group_label,
                    len(prep.plan.net),
                    res,
                    scale,
                    self.net,
                )
                if best is None or r.time_s < best.time_s:
                    best = r
            assert best is not None  # _usable leaves at least one algorithm: runs is not empty
            out.append(best)
        return out

    def _recorded(self) -> np.ndarray:
        return np.arange(2 * self.net.n_links)  # every fabric link direction

    def collective_time(self, collective: str, gpus, size_bytes: int, **kw) -> CollectiveResult:
        return self.sweep(collective, gpus, [size_bytes], **kw)[0]

    def run_jobs(self, jobs: list[Job], routing: Routing | None = None) -> JobsResult:
        return run_jobs_on(self, jobs, routing or Routing())


# ---------------------------------------------------------------------------------------------
# several jobs at once
@dataclass
class Job:
    """One collective of a job. `gpus` as in select_gpus (or `servers`); `start_s` when it starts."""

    collective: str
    size_bytes: int
    gpus: object = None
    servers: object = None
    algorithm: str = "ring"
    start_s: float = 0.0
    name: str = ""
    pairs: np.ndarray | list | None = None  # send_recv only: explicit (src, dst) global GPU id pairs


@dataclass
class JobResult:
    name: str
    collective: str
    n_ranks: int
    bus_bytes: int
    start_s: float
    time_s: float  # from its start to its last byte, latency included
    alone_s: float  # the same job alone on the fabric (same routing and seed)
    latency_s: float

    @property
    def slowdown(self) -> float:
        return self.time_s / self.alone_s if self.alone_s > 0 else 1.0

    @property
    def busbw_GBps(self) -> float:
        return self.bus_bytes / self.time_s / GB * busbw_factor(self.collective, self.n_ranks) if self.time_s > 0 else 0.0


@dataclass
class JobsResult:
    jobs: list[JobResult]
    run: engine.EngineResult = field(repr=False)
    group_job: np.ndarray = field(repr=False)  # job index of every coupled flow


def run_jobs_on(sim: Simulator, jobs: list[Job], routing: Routing) -> JobsResult:
    from tokenfab.sim.collectives import Transfers

    if not jobs:
        raise InputError("no jobs to run", "jobs")
    net = sim.net
    plans, sizes, names, gsets = [], [], [], []
    used = np.zeros(net.n_gpus, dtype=np.int64)
    for i, job in enumerate(jobs):
        coll = collective_name(job.collective)
        if job.pairs is not None and job.gpus is None:
            gpus = np.unique(np.asarray(job.pairs, dtype=np.int64).ravel())
        else:
            gpus = select_gpus(net, job.gpus, job.servers)
        used[gpus] += 1
        algos = _resolve_algorithm(coll, job.algorithm)
        if len(algos) > 1:  # auto: the faster alone
            alone = [
                sim.collective_time(coll, gpus, job.size_bytes, algorithm=a, routing=routing, pairs=job.pairs)
                for a in _usable(net, algos, gpus, explicit=False)
            ]
            algo = min(alone, key=lambda r: r.time_s).algorithm
        else:
            algo = algos[0]
        plans.append(build(net, coll, gpus, algo, job.pairs))
        sizes.append(nccl_sizes(coll, int(job.size_bytes), len(gpus)))
        names.append(job.name or f"job {i + 1}")
        gsets.append(gpus)
    if (used > 1).any():
        gpu = int(np.flatnonzero(used > 1)[0])
        g = net.gpus_per_tray
        raise InputError(f"srv-{gpu // g + 1}:gpu{gpu % g} is in more than one job", "jobs")
    # one combined plan: groups offset per job, routed together (adaptive routing sees every job)
    offs = np.cumsum([0] + [p.n_groups for p in plans])
    combined_tr = Transfers.concat(
        [
            Transfers(p.net.grp + o, p.net.w, p.net.src_srv, p.net.src_rail, p.net.dst_srv, p.net.dst_rail)
            for p, o in zip(plans, offs)
        ]
    )
    combo = FlowPlan(
        "jobs",
        "mixed",
        0,
        0,
        np.concatenate([p.group_bytes * s.bus_bytes for p, s in zip(plans, sizes)]),
        sum((p.group_label for p in plans), []),
        combined_tr,
        np.concatenate([p.nvl_grp + o for p, o in zip(plans, offs)]),
        np.concatenate([p.nvl_src for p in plans]),
        np.concatenate([p.nvl_dst for p in plans]),
        np.concatenate([p.nvl_w for p in plans]),
        0,
        0,
    )
    prep = prepare(net, combo, routing)
    group_job = np.repeat(np.arange(len(plans)), [p.n_groups for p in plans])
    start = np.array([jobs[j].start_s for j in group_job], dtype=np.float64)
    res = prep.run(combo.group_bytes, start_s=start)
    out = []
    for j, (p, s) in enumerate(zip(plans, sizes)):
        solo = prepare(net, p, routing)
        r1 = solo.run(p.group_bytes * s.bus_bytes)
        mine = group_job == j
        t = float(res.finish_s[mine].max() - jobs[j].start_s) + solo.latency_s
        out.append(
            JobResult(
                names[j], p.collective, p.n_ranks, s.bus_bytes, jobs[j].start_s, t, r1.makespan_s + solo.latency_s, solo.latency_s
            )
        )
    return JobsResult(out, res, group_job)


# ---------------------------------------------------------------------------------------------
# one-call conveniences
def _routing(routing, qps, seed) -> Routing:
    if isinstance(routing, Routing):
        return routing
    return Routing(mode=routing, qps=qps, seed=seed)


def collective_time(
    fabric: Fabric,
    collective: str,
    gpus=None,
    size_bytes: int = 2**30,
    *,
    servers=None,
    routing: str | Routing = "ecmp",
    qps: int = 1,
    seed: int = 0,
    algorithm: str = "auto",
    faults: Faults | None = None,
    params: SimParams | None = None,
    dtype: str = "float",
    pairs=None,
) -> CollectiveResult:
    """Time of one collective on the fabric: `.time_s`, `.algbw_GBps`, `.busbw_GBps`, ..."""
    sim = Simulator(fabric, params, faults)
    ids = (
        select_gpus(sim.net, gpus, servers)
        if pairs is None or gpus is not None or servers is not None
        else np.unique(np.asarray(pairs, dtype=np.int64).ravel())
    )
    return sim.collective_time(
        collective, ids, size_bytes, algorithm=algorithm, routing=_routing(routing, qps, seed), dtype=dtype, pairs=pairs
    )


def run_jobs(
    fabric: Fabric,
    jobs: list[Job],
    *,
    routing: str | Routing = "ecmp",
    qps: int = 1,
    seed: int = 0,
    faults: Faults | None = None,
    params: SimParams | None = None,
) -> JobsResult:
    """Several jobs' collectives at once on one fabric: each job's time, and its slowdown against
    running alone with the same routing and seed."""
    return Simulator(fabric, params, faults).run_jobs(jobs, _routing(routing, qps, seed))
