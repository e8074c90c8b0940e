"""The factory's event loop: epochs between events, rates constant inside an epoch.

Events (job arrivals, fault changes, the window's end; completions are found from the current
rates) are processed in time order. After each batch of events the scheduler places what it can,
and only then are rates recomputed: each running job's step time alone on its placement (cached
per placement and fabric state, so an unchanged job costs nothing), then contention between the
jobs that share the fabric. Between events every job progresses at its rate, and the epoch's GPU
time, idle time, tokens and power are integrated exactly.

Later layers plug in as further event kinds (`Engine.on(kind, handler)`) and as extra
per-epoch accounting (`Engine.observers`): data arrivals, pipeline stages, storage, failures.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.scheduler import POLICIES, Inventory, place
from tokenfab.factory.spec import FactorySpec, Workload, job_names
from tokenfab.workload.comm import CommModel, JobTraffic
from tokenfab.workload.inference import check_inference, inference_estimate, replica_units
from tokenfab.workload.training import check_training, training_step


@dataclass
class JobRun:
    """One job's life in the factory: request, placement, rates, and what it accumulated."""

    name: str
    tenant: str
    kind: str  # training | inference
    workload: Workload
    field: str  # where it is defined in the factory file, for errors
    arrive_s: float
    priority: int
    order: int
    units: list[int]
    target_steps: float | None = None
    target_tokens: float | None = None
    duration_s: float | None = None
    status: str = "pending"  # pending | queued | running | done
    placement: np.ndarray | None = None
    start_s: float | None = None
    end_s: float | None = None
    until_s: float = math.inf
    alone: Any = None  # TrainingStep | InferenceResult on its placement, running alone
    current: Any = None  # ... with contention applied
    alone_key: tuple | None = None
    contended_on: list[str] = field(default_factory=list)
    # accumulated
    steps: float = 0.0
    tokens: float = 0.0  # training tokens, or inference output tokens
    input_tokens: float = 0.0
    gpu_s: float = 0.0
    busy_gpu_s: float = 0.0
    net_idle_gpu_s: float = 0.0
    contention_gpu_s: float = 0.0
    bubble_gpu_s: float = 0.0
    run_s: float = 0.0
    w_step_s: float = 0.0  # time-weighted sums for means
    w_alone_step_s: float = 0.0
    w_ttft_s: float = 0.0
    w_tpot_s: float = 0.0
    w_mfu: float = 0.0
    energy_j: float = 0.0

    @property
    def gpus(self) -> int:
        return int(sum(self.units))

    # -- rates under the current estimate ------------------------------------------------------
    def step_s(self) -> float:
        if self.kind == "training":
            return self.current.step_s
        return self.current.decode_iteration_s

    def tokens_per_s(self) -> float:
        if self.kind == "training":
            return self.current.tokens_per_s
        return self.current.output_tokens_per_s

    def busy(self) -> float:
        return self.current.busy_fraction

    def network_idle(self) -> float:
        if self.kind == "training":
            return self.current.network_idle_s / self.current.step_s
        return self.current.network_idle_fraction

    def bubble(self) -> float:
        return self.current.bubble_s / self.current.step_s if self.kind == "training" else 0.0

    def time_to_finish(self, now: float) -> float:
        t = self.until_s - now
        rate = self.tokens_per_s()
        if self.target_steps is not None and rate > 0:
            t = min(t, (self.target_steps - self.steps) * self.step_s())
        if self.target_tokens is not None and rate > 0:
            t = min(t, (self.target_tokens - self.tokens) / rate)
        return max(t, 0.0)


@dataclass
class Epoch:
    t0_s: float
    t1_s: float
    allocated_gpus: int
    busy_gpus: float  # GPU-equivalents computing
    net_idle_gpus: float  # GPU-equivalents waiting on the network
    power_w: float  # facility power (IT x PUE)
    it_power_w: float
    gpu_w: float
    server_w: float
    running: int
    queued: int
    tokens_per_s: float


@dataclass
class FactoryRun:
    """Everything a run produced; kpis.py turns it into the reported figures."""

    spec: FactorySpec
    fabric: Fabric
    cluster: Cluster
    comm_name: str
    jobs: list[JobRun]
    epochs: list[Epoch]
    link_load: dict[str, float]  # peak utilisation of shared links over the run
    power: dict[str, float]  # constant parts (network W, server overhead W) and per-GPU figures
    assumptions: list[str]


def expand_jobs(spec: FactorySpec, cluster: Cluster) -> list[JobRun]:
    """Jobs of the description, checked against the fabric (bad input raises InputError)."""
    G = cluster.gpus_per_server
    out: list[JobRun] = []
    order = 0
    for i, j in enumerate(spec.jobs):
        w = spec.workload_of(j)
        fld = f"workloads.{j.workload}" if j.workload else f"jobs.{i}"
        wf = f"{fld}.{w.kind}"
        if w.training:
            check_training(w.training, G, wf)
            units = [w.training.gpus]
        else:
            check_inference(w.inference, G, wf)
            units = replica_units(w.inference)
        for u in units:
            if u > G and u % G:
                raise InputError(f"a unit of {u} GPUs spans servers but is not a multiple of the {G} GPUs of a server "
                                 f"(whole servers only across servers)", f"{wf}.parallelism" if w.training else wf)
        if sum(units) > cluster.n_gpus:
            raise InputError(f"job {j.name!r} needs {sum(units):,} GPUs; the fabric {cluster.fabric.intent.name!r} has "
                             f"{cluster.n_gpus:,}", f"jobs.{i}")
        for k, name in enumerate(job_names(j)):
            arrive = (j.arrive_h + k * j.every_h) * 3600.0
            run = JobRun(name, j.tenant, w.kind, w, wf, arrive, j.priority, order, list(units),
                         target_steps=float(j.steps) if j.steps else None, target_tokens=j.tokens,
                         duration_s=j.duration_h * 3600.0 if j.duration_h else None)
            order += 1
            out.append(run)
    return out


class Engine:
    def __init__(self, spec: FactorySpec, fabric: Fabric, comm_factory: Callable[[Cluster], CommModel]):
        self.spec = spec
        self.fabric = fabric
        self.cluster = Cluster(fabric)
        self.comm = comm_factory(self.cluster)
        self.inv = Inventory(self.cluster)
        self.policy = POLICIES[spec.scheduler.policy]()
        self.jobs = expand_jobs(spec, self.cluster)
        for i, f in enumerate(spec.faults):
            self.cluster.check_device(f.down, f"faults.{i}.down")
        self.now = 0.0
        self.end = spec.window_s
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.handlers: dict[str, Callable[[Any], None]] = {"arrive": self._arrive, "fault": self._fault,
                                                           "restore": self._restore}
        self.observers: list[Callable[[float, float, "Engine"], None]] = []
        self.running: list[JobRun] = []
        self.queue: list[JobRun] = []
        self.epochs: list[Epoch] = []
        self.link_peak: dict[str, float] = {}
        self._power_setup()

    # -- events ------------------------------------------------------------------------------------
    def push(self, t: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, (t, self._seq, kind, payload))
        self._seq += 1

    def on(self, kind: str, handler: Callable[[Any], None]) -> None:
        self.handlers[kind] = handler

    def _arrive(self, job: JobRun) -> None:
        job.status = "queued"
        self.queue.append(job)

    def _fault(self, ref: str) -> None:
        self.cluster.fail([ref])

    def _restore(self, ref: str) -> None:
        self.cluster.restore([ref])

    # -- the loop ------------------------------------------------------------------------------------
    def run(self) -> FactoryRun:
        for j in self.jobs:
            if j.arrive_s < self.end:
                self.push(j.arrive_s, "arrive", j)
        for f in self.spec.faults:
            if f.at_h * 3600 < self.end:
                self.push(f.at_h * 3600.0, "fault", f.down)
            if f.up_h is not None and f.up_h * 3600 < self.end:
                self.push(f.up_h * 3600.0, "restore", f.down)
        dirty = True
        while True:
            if dirty:
                self._refresh()
                dirty = False
            t_next = self.end
            if self._heap:
                t_next = min(t_next, self._heap[0][0])
            for j in self.running:
                t_next = min(t_next, self.now + j.time_to_finish(self.now))
            self._advance(t_next)
            if self.now >= self.end:
                break
            for j in list(self.running):  # completions (all that end now)
                if j.time_to_finish(self.now) <= 1e-6:
                    self._finish(j)
                    dirty = True
            while self._heap and self._heap[0][0] <= self.now:
                _, _, kind, payload = heapq.heappop(self._heap)
                self.handlers[kind](payload)
                dirty = True
            if dirty:
                self._schedule()
        for j in self.running:
            j.end_s = None
        return self._result()

    def _schedule(self) -> None:
        self.queue.sort(key=lambda j: (-j.priority, j.arrive_s, j.order))
        started = []
        for j in self.queue:
            got = place(self.inv, self.policy, j.units, j.tenant)
            if got is None:
                if not self.spec.scheduler.backfill:
                    break
                continue
            j.placement = got
            j.status = "running"
            j.start_s = self.now
            j.until_s = self.now + j.duration_s if j.duration_s else math.inf
            self.running.append(j)
            started.append(j)
        for j in started:
            self.queue.remove(j)

    def _finish(self, j: JobRun) -> None:
        j.status = "done"
        j.end_s = self.now
        self.running.remove(j)
        offset = 0
        for u in j.units:
            self.inv.give_back(j.placement[offset:offset + u], j.tenant)
            offset += u

    # -- rates -----------------------------------------------------------------------------------------
    def _estimate(self, j: JobRun):
        key = (self.cluster.version, j.placement.tobytes())
        if j.alone_key != key:
            G = self.cluster.gpus_per_server
            if j.kind == "training":
                j.alone = training_step(j.workload.training, self.cluster.gpu, self.comm, j.placement, G, j.field)
            else:
                j.alone = inference_estimate(j.workload.inference, self.cluster.gpu, self.comm, j.placement, G, j.field)
            j.alone_key = key
        return j.alone

    def _traffic(self, j: JobRun) -> JobTraffic:
        est = j.alone
        if j.kind == "training":
            return JobTraffic(j.name, [it.collective for it in est.items], est.step_s)
        # inference: per decode iteration; prefill work scaled to what happens during one iteration
        it_s = est.decode_iteration_s
        cols = []
        spec = j.workload.inference
        for it in est.items:
            c = it.collective
            if it.stage == "prefill":
                per = spec.batch / spec.output_tokens if spec.mode == "colocated" else min(
                    1.0, est.output_tokens_per_s / max(est.decode_tokens_per_s, 1e-12)) * it_s / est.prefill_iteration_s
                c = type(c)(c.kind, c.groups, c.size_bytes, c.parallelism, c.count * per, c.overlap)
            cols.append(c)
        return JobTraffic(j.name, cols, it_s)

    def _refresh(self) -> None:
        for j in self.running:
            self._estimate(j)
        net = [j for j in self.running if any(getattr(it, "network", False) for it in j.alone.items)]
        stretch: dict[str, float] = {}
        if len(net) > 1:
            con = self.comm.contention([self._traffic(j) for j in net])
            stretch = con.stretch
            for j in net:
                j.contended_on = sorted(set(j.contended_on) | set(con.contended.get(j.name, [])))
            for k, v in con.link_load.items():
                self.link_peak[k] = max(self.link_peak.get(k, 0.0), v)
        for j in self.running:
            s = stretch.get(j.name, 1.0)
            j.current = j.alone.stretched(s) if s != 1.0 else j.alone

    def _advance(self, t: float) -> None:
        dt = t - self.now
        if dt <= 0:
            self.now = max(self.now, t)
            return
        alloc = busy = net_idle = tok = 0.0
        gpu_w = 0.0
        p = self._pw
        for j in self.running:
            n = j.gpus
            alone_step = j.alone.step_s if j.kind == "training" else j.alone.decode_iteration_s
            step = j.step_s()
            ok = math.isfinite(step) and step > 0
            b = j.busy() if ok else 0.0
            ni = j.network_idle() if ok else 1.0
            cont = max(0.0, 1.0 - alone_step / step) if ok and math.isfinite(alone_step) else (1.0 if not ok else 0.0)
            rate = j.tokens_per_s() if ok else 0.0
            j.gpu_s += n * dt
            j.busy_gpu_s += n * dt * b
            j.net_idle_gpu_s += n * dt * ni
            j.contention_gpu_s += n * dt * cont
            j.bubble_gpu_s += n * dt * (j.bubble() if ok else 0.0)
            j.run_s += dt
            if ok:
                j.tokens += rate * dt
                j.steps += dt / step
                j.w_step_s += step * dt
                j.w_alone_step_s += alone_step * dt
                if j.kind == "inference":
                    j.input_tokens += j.current.input_tokens_per_s * dt
                    j.w_ttft_s += j.current.ttft_s * dt
                    j.w_tpot_s += j.current.tpot_s * dt
                else:
                    j.w_mfu += j.current.mfu * dt
            w = n * (p["gpu_idle_w"] + (p["gpu_tdp_w"] - p["gpu_idle_w"]) * b)
            j.energy_j += w * dt * self.spec.power.pue
            gpu_w += w
            alloc += n
            busy += n * b
            net_idle += n * ni
            tok += rate
        free = self.cluster.n_gpus - alloc
        gpu_w += free * p["gpu_idle_w"]
        frac = alloc / self.cluster.n_gpus if self.cluster.n_gpus else 0.0
        server_w = p["server_overhead_w"] * (p["server_idle_fraction"] + (1 - p["server_idle_fraction"]) * frac)
        it_w = gpu_w + server_w + p["network_w"]
        self.epochs.append(Epoch(self.now, t, int(alloc), busy, net_idle, it_w * self.spec.power.pue, it_w,
                                 gpu_w, server_w, len(self.running), len(self.queue), tok))
        for obs in self.observers:
            obs(self.now, t, self)
        self.now = t

    # -- power constants ------------------------------------------------------------------------------
    def _power_setup(self) -> None:
        from tokenfab.report.tables import bom_rows

        it = self.fabric.intent
        gpu = self.cluster.gpu
        tdp = it.power_w.get(gpu.model, gpu.tdp_w)
        rows = bom_rows(self.fabric)
        network_w = sum(r["total_power_w"] for r in rows if r["category"] in ("switche", "switch", "optic", "nic"))
        server_w = sum(r["total_power_w"] for r in rows if r["category"] == "server")
        n_gpu = self.cluster.n_gpus
        overhead = max(server_w - n_gpu * tdp, 0.0)
        self.capex_usd = sum(r["total_price_usd"] for r in rows)
        self._pw = {"gpu_tdp_w": tdp, "gpu_idle_w": tdp * self.spec.power.gpu_idle_fraction,
                    "server_overhead_w": overhead, "server_idle_fraction": self.spec.power.server_overhead_idle_fraction,
                    "network_w": network_w, "switch_w": sum(r["total_power_w"] for r in rows if r["category"].startswith("switch")),
                    "optics_w": sum(r["total_power_w"] for r in rows if r["category"] == "optic"),
                    "nic_w": sum(r["total_power_w"] for r in rows if r["category"] == "nic"),
                    "capex_usd": self.capex_usd, "gpu_price_usd_per_hour": gpu.price_usd_per_hour or 0.0}

    def _result(self) -> FactoryRun:
        cfg = self.spec.network
        assumptions = [f"communication model: {self.comm.name}"]
        if hasattr(self.comm, "config_lines"):
            assumptions += self.comm.config_lines()
        if self.comm.name == "analytical":
            a = cfg.analytical
            assumptions.append(f"analytical: NVLink {self.cluster.gpu.nvlink_gbytes_per_s_per_direction:.0f} GB/s per "
                               f"direction x {a.nvlink_efficiency}, NIC x {a.nic_efficiency}, launch {a.launch_nvlink_s * 1e6:.0f}/"
                               f"{a.launch_network_s * 1e6:.0f} us (NVLink/network), hop {a.nvlink_hop_s * 1e6:.1f}/"
                               f"{a.nic_hop_s * 1e6:.1f} us + {self.cluster.switch_latency_s * 1e9:.0f} ns per switch; "
                               f"ideal ECMP spreading over leaf uplinks")
        p = self.spec.power
        assumptions.append(f"power: GPU draws {p.gpu_idle_fraction:.0%} of TDP idle and TDP while computing; server "
                           f"overhead {p.server_overhead_idle_fraction:.0%} idle; network (switches, optics, NICs) constant; PUE {p.pue}")
        return FactoryRun(self.spec, self.fabric, self.cluster, self.comm.name, self.jobs, self.epochs,
                          dict(sorted(self.link_peak.items())), dict(self._pw), assumptions)


def make_comm(spec: FactorySpec) -> Callable[[Cluster], CommModel]:
    """The communication model the description asks for."""
    from tokenfab.factory.network import AnalyticalComm

    if spec.network.model == "simulator":
        from tokenfab.factory.simcomm import SimulatorComm

        return lambda cl: SimulatorComm(cl, routing=spec.network.routing, seed=spec.seed, qps=spec.network.qps)
    return lambda cl: AnalyticalComm(cl, spec.network.analytical)


def run_factory(spec: FactorySpec, fabric: Fabric) -> FactoryRun:
    return Engine(spec, fabric, make_comm(spec)).run()
