"""The factory's event loop: epochs between events, rates constant inside an epoch.

Events (job arrivals, faults, failures, ticks, lifecycle steps, the window's end; completions are
found from the current rates) are processed in time order. After each batch of events the
scheduler places what it can, and only when a placement or the fabric changed are rates
recomputed: each running job's step time alone on its placement (cached per placement and fabric
state, so an unchanged job costs nothing), then contention between the jobs that share the
fabric. Between events every job progresses at its rate, and the epoch's GPU time, tokens and
power are integrated exactly.

The seven layers meet here, each in its own module:
    data.py       sources -> pipelines on CPU nodes -> versioned datasets (advanced every epoch)
    storage.py    tiers over the storage fabric: dataset reads, checkpoints, restores, weights
    (this file)   compute: jobs placed by scheduler.py, rates from the workload models + CommModel
    network.py / simcomm.py   the backend fabric, with its faults and impairments
    lifecycle.py  train -> evaluate -> register -> deploy, retraining on schedule or new data
    services.py   inference endpoints: arrivals, queueing, SLOs, autoscaled replicas, frontend
    tenancy.py    quotas and sovereignty (the scheduler only ever sees a tenant's own servers)
    failures.py   interruptions at Llama 3's rate; restarts from checkpoints

When the description uses a layer beyond jobs, a tick every `tick_min` bounds epochs so that
daily swings, pipelines and autoscaling follow time. Every GPU-second of the window is booked to
one cause: computing, waiting on the network, on storage, starved by the pipelines, lost to
failures, waiting in the queue while GPUs sit free, unused capacity of services (low demand),
other overhead (pipeline bubble, NVLink communication, optimizer), or unallocated.

`Engine.on(kind, handler)` adds event kinds and `Engine.observers` per-epoch accounting.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.factory.checkpoint import advance_cycle, time_for_work, young_daly_s
from tokenfab.factory.cluster import Cluster, Impairment
from tokenfab.factory.scheduler import POLICIES, Inventory, place
from tokenfab.factory.services import autoscale
from tokenfab.factory.spec import FactorySpec, Failures, Workload, job_names
from tokenfab.workload.comm import CommModel, JobTraffic
from tokenfab.workload.inference import InferenceSpec, check_inference, inference_estimate, replica_units
from tokenfab.workload.training import check_training, training_step

CAUSES = ("computing", "network", "storage", "pipeline_starvation", "failures", "queueing", "low_demand",
          "other_overhead", "unallocated")


@dataclass
class Rates:
    """A running job's figures between two refreshes (placement and fabric unchanged)."""

    ok: bool
    step_s: float
    alone_step_s: float
    busy: float  # share of a step computing
    net: float  # ... waiting on the network
    bubble: float
    cont: float  # share lost to contention with other jobs
    tokens_per_s: float  # training tokens, or output tokens at full batch
    input_per_s: float = 0.0
    ttft_s: float = 0.0
    tpot_s: float = 0.0
    tpot_low_s: float = 0.0  # one sequence per attention rank
    mfu: float = 0.0


@dataclass(eq=False)
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
    status: str = "pending"  # pending | queued | running | done | failed | stopped
    placement: np.ndarray | None = None
    start_s: float | None = None
    end_s: float | None = None
    until_s: float = math.inf
    alone: Any = None  # TrainingStep | InferenceResult on its placement, running alone
    current: Any = None  # ... with contention applied
    alone_low: Any = None  # inference at one sequence per rank (services)
    alone_key: tuple | None = None
    contended_on: list[str] = field(default_factory=list)
    # layers
    stage: str = "job"  # job | train | evaluate | replica
    service: str | None = None
    lifecycle: str | None = None
    version: int = 0
    dataset: str | None = None
    max_epochs: float = 1.0
    ckpt_setting: Any = None  # minutes, "auto", "off" or None (no checkpoints)
    ckpt_tier: str | None = None
    ckpt_interval_s: float | None = None
    ckpt_bytes: float = 0.0
    ckpt_write_s: float = 0.0
    ckpt_phase_s: float = 0.0
    checkpoints: int = 0
    tokens_at_ckpt: float = 0.0
    steps_at_ckpt: float = 0.0
    recover_s: float = 0.0  # restart + restore left after a failure
    load_s: float = 0.0  # weights still loading (service replicas)
    needs_restart: bool = False
    storage_factor: float = 1.0  # progress kept given its dataset read bandwidth
    read_Bps: float = 0.0  # dataset read rate at full speed
    load: float = 1.0  # share of its capacity a service replica used this epoch
    epoch_tokens: float = 0.0
    epoch_input: float = 0.0
    interruptions: int = 0
    lost_tokens: float = 0.0
    lost_gpu_s: float = 0.0
    history: list[tuple[float, float | None, np.ndarray]] = field(default_factory=list)  # (start, end, GPUs)
    rates: Rates | None = None
    # accumulated
    steps: float = 0.0
    tokens: float = 0.0  # training tokens, or inference output tokens
    input_tokens: float = 0.0
    gpu_s: float = 0.0
    busy_gpu_s: float = 0.0
    net_idle_gpu_s: float = 0.0
    contention_gpu_s: float = 0.0
    bubble_gpu_s: float = 0.0
    storage_gpu_s: float = 0.0
    starve_gpu_s: float = 0.0
    fail_gpu_s: float = 0.0
    lowdemand_gpu_s: float = 0.0
    other_gpu_s: float = 0.0
    read_bytes: float = 0.0
    ckpt_written_bytes: float = 0.0
    w_ideal_tokens: float = 0.0  # what it would have made running flat out since it started (goodput)
    ckpt_reserved_bytes: float = 0.0  # space held on the checkpoint tier for its last `keep` checkpoints
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

    @property
    def tokens_per_step(self) -> float:
        return float(self.workload.training.tokens_per_step) if self.kind == "training" else 1.0

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
    storage_gpus: float = 0.0
    starve_gpus: float = 0.0
    fail_gpus: float = 0.0  # recovering jobs and servers out of service
    lowdemand_gpus: float = 0.0
    queue_gpus: float = 0.0
    other_gpus: float = 0.0
    down_gpus: int = 0
    cpu_w: float = 0.0


@dataclass
class FactoryRun:
    """Everything a run produced; kpis.py and ledger.py turn it into the reported figures."""

    spec: FactorySpec
    fabric: Fabric
    cluster: Cluster
    comm_name: str
    jobs: list[JobRun]
    epochs: list[Epoch]
    link_load: dict[str, float]  # peak utilisation of shared links over the run
    power: dict[str, float]  # constant parts (network W, server overhead W) and per-GPU figures
    assumptions: list[str]
    storage: Any = None  # StorageLayer
    data: Any = None  # DataLayer
    services: list = field(default_factory=list)  # ServiceRun
    lifecycles: list = field(default_factory=list)  # LifecycleRun
    tenancy: Any = None
    frontend: Any = None
    events: list[dict] = field(default_factory=list)  # timeline: failures, faults, deployments
    idle_down_gpu_s: float = 0.0
    queue_gpu_s: float = 0.0
    unallocated_gpu_s: float = 0.0
    plots: dict = field(default_factory=dict)  # SVGs made for the report, reused by the HTML page


def make_run(spec: FactorySpec, cluster: Cluster, name: str, tenant: str, w: Workload, wf: str, arrive: float,
             priority: int, order: int, **kw) -> JobRun:
    """A job of the description, checked against the fabric (bad input raises InputError)."""
    G = cluster.gpus_per_server
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
        raise InputError(f"job {name!r} needs {sum(units):,} GPUs; the fabric {cluster.fabric.intent.name!r} has "
                         f"{cluster.n_gpus:,}", wf.rsplit(".", 1)[0] if wf.startswith("jobs.") else wf)
    return JobRun(name, tenant, w.kind, w, wf, arrive, priority, order, list(units), **kw)


def expand_jobs(spec: FactorySpec, cluster: Cluster) -> list[JobRun]:
    """Jobs of the description, checked against the fabric (bad input raises InputError)."""
    out: list[JobRun] = []
    order = 0
    for i, j in enumerate(spec.jobs):
        w = spec.workload_of(j)
        fld = f"workloads.{j.workload}" if j.workload else f"jobs.{i}"
        wf = f"{fld}.{w.kind}"
        if w.training:
            check_training(w.training, cluster.gpus_per_server, wf)
        if w.gpus > cluster.n_gpus:
            raise InputError(f"job {j.name!r} needs {w.gpus:,} GPUs; the fabric {cluster.fabric.intent.name!r} has "
                             f"{cluster.n_gpus:,}", f"jobs.{i}")
        for k, name in enumerate(job_names(j)):
            arrive = (j.arrive_h + k * j.every_h) * 3600.0
            run = make_run(spec, cluster, name, j.tenant, w, wf, arrive, j.priority, order,
                           target_steps=float(j.steps) if j.steps else None, target_tokens=j.tokens,
                           duration_s=j.duration_h * 3600.0 if j.duration_h else None,
                           dataset=j.dataset, max_epochs=j.max_epochs, ckpt_setting=j.checkpoint_min)
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
            if f.down is not None:
                self.cluster.check_device(f.down, f"faults.{i}.down")
            if f.where is not None:
                self.cluster.check_device(f.where, f"faults.{i}.where")
        self.now = 0.0
        self.end = spec.window_s
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "arrive": self._arrive, "fault": self._fault, "restore": self._restore,
            "impair": self._impair_event, "tick": self._tick}
        self.observers: list[Callable[[float, float, Engine], None]] = []
        self.running: list[JobRun] = []
        self.queue: list[JobRun] = []
        self.epochs: list[Epoch] = []
        self.link_peak: dict[str, float] = {}
        self.events: list[dict] = []
        self.changed = False
        self._order = len(self.jobs)
        self._active_faults: set[int] = set()
        self.down_until: dict[int, float] = {}  # server -> repair time
        self.idle_down_gpu_s = self.queue_gpu_s = self.unallocated_gpu_s = 0.0
        self._power_setup()
        self._layers_setup()

    # -- the layers -----------------------------------------------------------------------------
    def _layers_setup(self) -> None:
        from tokenfab.factory.data import DataLayer
        from tokenfab.factory.failures import FailureHandler
        from tokenfab.factory.lifecycle import Orchestrator
        from tokenfab.factory.services import Frontend, ServiceRun
        from tokenfab.factory.storage import StorageLayer
        from tokenfab.factory.tenancy import build_tenancy

        spec, cl = self.spec, self.cluster
        self.layered = spec.layered or any(f.kind != "down" for f in spec.faults)
        self.storage = StorageLayer(spec, cl) if spec.storage else None
        self.data = DataLayer(spec, self.storage) if (spec.sources or spec.datasets) else None
        self.failure_spec: Failures = spec.failures or Failures()
        # every request a tenant will make, for the sovereignty and quota checks
        units_of: dict[str, list[tuple[str, list[int]]]] = {}
        for i, j in enumerate(spec.jobs):
            units_of.setdefault(j.tenant, []).append((f"jobs.{i}", self._units(spec.workload_of(j), f"jobs.{i}")))
        for k, s in enumerate(spec.services):
            w = Workload(inference=spec.service_workload(s))
            wf = f"workloads.{s.workload}.inference" if s.workload else f"services.{k}.inference"
            units_of.setdefault(s.tenant, []).append((f"services.{k}", self._units(w, f"services.{k}", wf)))
        for k, lc in enumerate(spec.lifecycles):
            units_of.setdefault(lc.tenant, []).append(
                (f"lifecycles.{k}.train", self._units(spec.workloads[lc.train.workload], f"lifecycles.{k}.train",
                                                       f"workloads.{lc.train.workload}.training")))
            if lc.evaluate:
                units_of.setdefault(lc.tenant, []).append(
                    (f"lifecycles.{k}.evaluate", self._units(spec.workloads[lc.evaluate.workload],
                                                             f"lifecycles.{k}.evaluate",
                                                             f"workloads.{lc.evaluate.workload}.inference")))
        self.tenancy = build_tenancy(spec, cl, units_of)
        self.inv.allowed.update(self.tenancy.allowed)
        for j in self.jobs:
            self.job_storage_setup(j)
        self.services = []
        for k, s in enumerate(spec.services):
            infer = spec.service_workload(s)
            f = f"workloads.{s.workload}.inference" if s.workload else f"services.{k}.inference"
            sr = ServiceRun(s, k, infer, f, np.random.default_rng([spec.seed, 2, k]))
            sr.deployed = not any(lc.deploy == s.name for lc in spec.lifecycles)
            sr.probe = self._probe(infer, s.tenant, f)
            self.services.append(sr)
        self.svc_by_name = {s.name: s for s in self.services}
        self.orchestrator = Orchestrator(self)
        self.lifecycles = self.orchestrator.lifecycles
        self.failures = FailureHandler(self, self.failure_spec)
        self.handlers.update({"fail": self.failures.on_fail, "repair": self.failures.on_repair,
                              "register": self.orchestrator.on_registered})
        self.frontend = self._frontend(Frontend)
        self.cpu_power_w = sum(p.nodes * p.power_w for p in spec.cpu_pools)

    def _units(self, w: Workload, field_: str, wf: str | None = None) -> list[int]:
        wf = wf or f"{field_}.{w.kind}"
        G = self.cluster.gpus_per_server
        if w.training:
            check_training(w.training, G, wf)
            return [w.training.gpus]
        check_inference(w.inference, G, wf)
        return replica_units(w.inference)

    def _probe(self, infer: InferenceSpec, tenant: str, wf: str):
        """One replica alone on the empty fabric, inside the tenant's servers (autoscaling's guess)."""
        inv = Inventory(self.cluster)
        inv.allowed.update(self.tenancy.allowed)
        got = place(inv, self.policy, replica_units(infer), tenant)
        if got is None:
            raise InputError(f"one replica ({infer.gpus} GPUs) does not fit tenant {tenant!r}'s servers", wf)
        return inference_estimate(infer, self.cluster.gpu, self.comm, got, self.cluster.gpus_per_server, wf)

    def _frontend(self, Frontend):
        nets = self.fabric.design.get("networks") or {}
        fe = Frontend()
        side = nets.get("frontend")
        it = self.fabric.intent.frontend
        if side and it:
            fe.per_server_Bps = it.nics_per_server * it.speed_gbps * 1e9 / 8
            fe.capacity_Bps = side["bisection_gbps"] * 1e9 / 8
            hops = 3 if side["spines"] else 1
            fe.rtt_s = 2 * (2e-6 + hops * self.cluster.switch_latency_s)
        fe.base_rtt_s = fe.rtt_s
        return fe

    def job_storage_setup(self, j: JobRun) -> None:
        """Checkpoint size and tier, dataset read rate of a training job."""
        if j.kind != "training":
            return
        spec = self.spec
        setting = j.ckpt_setting
        if setting is None and spec.checkpoint is not None:
            setting = spec.checkpoint.interval_min
        j.ckpt_setting = None if setting in (None, "off") else setting
        if j.ckpt_setting is not None and self.storage is None:
            raise InputError("checkpoints are written to a storage tier; add a storage section", j.field)
        if j.ckpt_setting is not None:
            bpp = spec.checkpoint.bytes_per_param if spec.checkpoint else 14.0
            j.ckpt_bytes = _params(j) * bpp
            j.ckpt_tier = self.tenancy.checkpoint_tier.get(j.tenant, spec.storage.checkpoint_tier)

    # -- events ------------------------------------------------------------------------------------
    def push(self, t: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, (t, self._seq, kind, payload))
        self._seq += 1

    def on(self, kind: str, handler: Callable[[Any], Any]) -> None:
        self.handlers[kind] = handler

    def log(self, kind: str, text: str, **kw) -> None:
        self.events.append({"t_h": round(self.now / 3600.0, 5), "kind": kind, "text": text, **kw})

    def _arrive(self, job: JobRun) -> None:
        job.status = "queued"
        self.queue.append(job)

    def _fault(self, ref: str) -> None:
        self.cluster.fail([ref])
        self.log("fault", f"{ref} down")
        self.changed = True

    def _restore(self, ref: str) -> None:
        self.cluster.restore([ref])
        self.log("fault", f"{ref} back up")
        self.changed = True

    def _impair_event(self, payload: tuple[int, bool]) -> None:
        i, on = payload
        (self._active_faults.add if on else self._active_faults.discard)(i)
        f = self.spec.faults[i]
        what = (f"{f.storage} slowed to {f.slowdown:.0%}" if f.kind == "storage" else
                f"{f.network} network: loss {f.loss:g}, jitter {f.jitter_us:g} us, latency {f.latency_us:g} us"
                + (f", {f.degrade:.0%} capacity" if f.degrade < 1 else "") + (f" on {f.where}" if f.where else ""))
        self.log("impairment", ("start: " if on else "end: ") + what)
        self._apply_impairments()

    def _apply_impairments(self) -> None:
        active = [self.spec.faults[i] for i in sorted(self._active_faults)]
        back = [f for f in active if f.kind == "impairment" and f.network == "backend"]
        imp = Impairment(loss=tuple((f.where, f.loss) for f in back if f.loss),
                         degrade=tuple((f.where, f.degrade) for f in back if f.degrade < 1),
                         jitter_s=sum(f.jitter_us for f in back) * 1e-6, latency_s=sum(f.latency_us for f in back) * 1e-6)
        before = self.cluster.version
        self.cluster.impair(imp)
        if self.cluster.version != before:
            self.changed = True
        fe = [f for f in active if f.kind == "impairment" and f.network == "frontend"]
        self.frontend.loss = max([f.loss for f in fe], default=0.0)
        self.frontend.jitter_s = sum(f.jitter_us for f in fe) * 1e-6
        self.frontend.rtt_s = self.frontend.base_rtt_s + 2 * sum(f.latency_us for f in fe) * 1e-6
        if self.storage is not None:
            from tokenfab.sim.faults import goodput_efficiency

            st = [f for f in active if f.kind == "impairment" and f.network == "storage"]
            p = max([f.loss for f in st], default=0.0)
            deg = min([f.degrade for f in st], default=1.0)
            lat = sum(f.latency_us + f.jitter_us for f in st) * 1e-6
            # a TCP/RoCE window of one bandwidth-delay product at 100 us RTT plus added delay
            rtt = 100e-6 + 2 * lat
            win = np.ceil(self.storage.client_per_server_Bps * rtt / 4096) if np.isfinite(
                self.storage.client_per_server_Bps) else 64
            self.storage.goodput = deg * float(goodput_efficiency(np.array([p]), np.array([win]), "go-back-n")[0])
            slow = {f.storage: f.slowdown for f in active if f.kind == "storage"}
            for name, t in self.storage.tiers.items():
                t.slowdown = slow.get(name, 1.0)

    # -- failures -----------------------------------------------------------------------------------
    def interrupt(self, j: JobRun) -> None:
        """The job's server failed: roll back to its last checkpoint, give its GPUs back, restart."""
        j.interruptions += 1
        if j.kind == "training":
            lost = max(j.tokens - j.tokens_at_ckpt, 0.0)
            r = j.rates
            if lost > 0 and r is not None and r.ok and r.tokens_per_s > 0:
                # the GPU time that computed the lost work now counts as lost to the failure
                lost_s = lost / (r.tokens_per_s * j.storage_factor) * j.gpus
                b, n_ = r.busy, r.net
                o = max(1.0 - b - n_, 0.0)
                sig = j.storage_factor
                moved = 0.0
                for attr, share in (("busy_gpu_s", b * sig), ("net_idle_gpu_s", n_ * sig), ("other_gpu_s", o * sig),
                                    ("storage_gpu_s", 1.0 - sig)):
                    take = min(getattr(j, attr), lost_s * share)
                    setattr(j, attr, getattr(j, attr) - take)
                    moved += take
                j.fail_gpu_s += moved
                j.lost_gpu_s += moved
            j.lost_tokens += lost
            j.tokens = j.tokens_at_ckpt
            j.steps = j.steps_at_ckpt
            j.ckpt_phase_s = 0.0
        self._release(j)
        j.placement = None
        if j.stage == "replica":
            j.status = "failed"
            j.end_s = self.now
            svc = self.svc_by_name[j.service]
            autoscale(self, svc)
        else:
            j.status = "queued"
            j.needs_restart = True
            self.queue.append(j)
        self.changed = True

    # -- the loop ------------------------------------------------------------------------------------
    def run(self) -> FactoryRun:
        from tokenfab.factory import failures

        for j in self.jobs:
            if j.arrive_s < self.end:
                self.push(j.arrive_s, "arrive", j)
        for i, f in enumerate(self.spec.faults):
            at, up = f.at_h * 3600.0, (f.up_h * 3600.0 if f.up_h is not None else None)
            if at >= self.end:
                continue
            if f.kind == "down":
                self.push(at, "fault", f.down)
                if up is not None and up < self.end:
                    self.push(up, "restore", f.down)
            else:
                self.push(at, "impair", (i, True))
                if up is not None and up < self.end:
                    self.push(up, "impair", (i, False))
        if self.layered:
            tick = self.spec.tick_min * 60.0
            for k in range(int(math.ceil(self.end / tick))):
                self.push(k * tick, "tick", k)
        fs = self.spec.failures
        if fs is not None and fs.enabled:
            L = self.fabric.links
            kinds = L["kind"].astype(str)
            srv = np.full(len(L), -1, dtype=np.int64)
            nic = kinds == "nic"
            srv[nic] = np.searchsorted(self.cluster.server_rows, L["a"][nic])
            for ev in failures.draw(fs, self.cluster.n_gpus, self.cluster.gpus_per_server, kinds, srv, self.end,
                                    np.random.default_rng([self.spec.seed, 1])):
                self.push(ev.t_s, "fail", ev)
        dirty = True
        while True:
            if dirty:
                self._refresh()
                dirty = False
            self._plan()
            t_next = self.end
            if self._heap:
                t_next = min(t_next, self._heap[0][0])
            for j in self.running:
                t_next = min(t_next, self.now + self._time_to_finish(j))
            self._advance(t_next)
            if self.now >= self.end:
                break
            acted = False
            for j in list(self.running):  # completions (all that end now)
                if self._time_to_finish(j) <= 1e-6:
                    self._finish(j)
                    acted = True
            while self._heap and self._heap[0][0] <= self.now:
                _, _, kind, payload = heapq.heappop(self._heap)
                self.handlers[kind](payload)
                acted = True
            if acted:
                self._schedule()
            if self.changed:
                dirty = True
                self.changed = False
        for j in self.running:
            j.end_s = None
            if j.history:
                j.history[-1] = (j.history[-1][0], None, j.history[-1][2])
        return self._result()

    def _time_to_finish(self, j: JobRun) -> float:
        t = j.until_s - self.now
        r = j.rates
        if r is None or not r.ok or r.tokens_per_s <= 0 or j.kind != "training":
            return max(t, 0.0)
        rate = r.tokens_per_s * j.storage_factor
        left = math.inf
        if j.target_steps is not None:
            left = (j.target_steps - j.steps) * j.tokens_per_step
        if j.target_tokens is not None:
            left = min(left, j.target_tokens - j.tokens)
        if not math.isfinite(left):
            return max(t, 0.0)
        if left <= 1e-9 * max(j.tokens_per_step, 1.0):
            return 0.0
        if j.dataset is not None and self.data is not None:
            avail = self.data.available_tokens(j.dataset, j.max_epochs) - j.tokens
            if avail < left:  # it will have to wait for data: no sooner than the data arrives
                g = self.data.growth_tokens_per_s(j.dataset, j.max_epochs)
                rate = min(rate, g) if avail <= 0 else rate
                if rate <= 0:
                    return max(t, 0.0)
        work = left / rate
        wall = j.recover_s + j.load_s + (time_for_work(j.ckpt_phase_s, j.ckpt_interval_s, j.ckpt_write_s, work)
                                         if j.ckpt_interval_s else work)
        return max(min(t, wall), 0.0)

    def _quota_ok(self, j: JobRun) -> bool:
        q = self.tenancy.quota.get(j.tenant)
        if q is None:
            return True
        used = self.inv.tenant_gpus.get(j.tenant)
        return (0 if used is None else int(used.sum())) + j.gpus <= q

    def _schedule(self) -> None:
        self.queue.sort(key=lambda j: (-j.priority, j.arrive_s, j.order))
        started = []
        for j in self.queue:
            got = place(self.inv, self.policy, j.units, j.tenant) if self._quota_ok(j) else None
            if got is None:
                if not self.spec.scheduler.backfill:
                    break
                continue
            self._start(j, got)
            started.append(j)
        for j in started:
            self.queue.remove(j)

    def _start(self, j: JobRun, got: np.ndarray) -> None:
        j.placement = got
        j.status = "running"
        first = j.start_s is None
        if first:
            j.start_s = self.now
            j.until_s = self.now + j.duration_s if j.duration_s else math.inf
        j.history.append((self.now, None, got))
        self.running.append(j)
        self.changed = True
        servers = len(np.unique(got // self.cluster.gpus_per_server))
        if j.kind == "training" and j.ckpt_setting is not None and j.ckpt_interval_s is None:
            keep = self.spec.checkpoint.keep if self.spec.checkpoint else 2
            tier = self.storage.tiers[j.ckpt_tier]
            if tier.free_bytes < keep * j.ckpt_bytes:
                self.log("storage", f"{j.name}: tier {j.ckpt_tier} has no room for {keep} checkpoints of "
                                    f"{j.ckpt_bytes / 1e9:,.0f} GB: it runs without checkpoints")
                j.ckpt_setting = None
            else:
                j.ckpt_reserved_bytes = keep * j.ckpt_bytes
                tier.occupy(j.ckpt_reserved_bytes)
        if j.kind == "training" and j.ckpt_setting is not None and j.ckpt_interval_s is None:
            j.ckpt_write_s = self._ckpt_write_s(j, servers)
            if j.ckpt_setting == "auto":
                mtbf = 1.0 / max(self.failure_spec.per_gpu_s * j.gpus, 1e-30)
                j.ckpt_interval_s = young_daly_s(j.ckpt_write_s, mtbf)
            else:
                j.ckpt_interval_s = float(j.ckpt_setting) * 60.0
        if j.needs_restart:
            j.needs_restart = False
            restore = 0.0
            if j.kind == "training" and j.checkpoints and self.storage is not None:
                bw = self.storage.burst_Bps(j.ckpt_tier, False, self.storage.client_Bps(servers))
                restore = j.ckpt_bytes / bw
                self.storage.tiers[j.ckpt_tier].read_bytes("restore", j.ckpt_bytes)
            j.recover_s = self.failure_spec.restart_min * 60.0 + restore
        if j.stage == "replica":
            self.load_weights(j, servers)

    def load_weights(self, j: JobRun, servers: int) -> None:
        if self.storage is None:
            return
        tier = self.tenancy.registry_tier.get(j.tenant, self.spec.storage.registry_tier)
        nbytes = _params(j) * (1.0 if j.workload.inference.precision == "fp8" else 2.0)
        bw = self.storage.burst_Bps(tier, False, self.storage.client_Bps(servers))
        j.load_s += nbytes / bw
        self.storage.tiers[tier].read_bytes("model-load", nbytes)

    def _ckpt_write_s(self, j: JobRun, servers: int) -> float:
        own = self.storage.alloc.get(("ckpt", j.name), 0.0)
        bw = self.storage.burst_Bps(j.ckpt_tier, True, self.storage.client_Bps(servers), own)
        return j.ckpt_bytes / bw

    def _release(self, j: JobRun) -> None:
        if j in self.running:
            self.running.remove(j)
        if j.placement is None:
            return
        offset = 0
        for u in j.units:
            self.inv.give_back(j.placement[offset:offset + u], j.tenant)
            offset += u
        if j.history and j.history[-1][1] is None:
            j.history[-1] = (j.history[-1][0], self.now, j.history[-1][2])

    def _finish(self, j: JobRun) -> None:
        placement = j.placement
        self._release(j)
        j.placement = placement
        j.status = "done"
        j.end_s = self.now
        self.changed = True
        if j.ckpt_reserved_bytes:  # a finished job's checkpoints are deleted (its model is registered)
            self.storage.tiers[j.ckpt_tier].occupy(-j.ckpt_reserved_bytes)
            j.ckpt_reserved_bytes = 0.0
        if j.lifecycle is not None:
            self.orchestrator.on_finish(j)

    def stop(self, j: JobRun) -> None:
        """Scale a replica in (or stop a service)."""
        if j.status == "queued":
            self.queue.remove(j)
            j.status = "stopped"
            j.end_s = self.now
            return
        placement = j.placement
        self._release(j)
        j.placement = placement
        j.status = "stopped"
        j.end_s = self.now
        self.changed = True

    # -- ticks: lifecycles, autoscaling -----------------------------------------------------------------
    def _tick(self, k: int) -> None:
        self.orchestrator.tick()
        for s in self.services:
            autoscale(self, s)

    def new_job(self, name: str, tenant: str, w: Workload, wf: str, priority: int, **kw) -> JobRun:
        j = make_run(self.spec, self.cluster, name, tenant, w, wf, self.now, priority, self._order, **kw)
        self._order += 1
        self.jobs.append(j)
        j.status = "queued"
        self.queue.append(j)
        return j

    # -- rates -----------------------------------------------------------------------------------------
    def _estimate(self, j: JobRun):
        key = (self.cluster.version, j.placement.tobytes())
        if j.alone_key != key:
            G = self.cluster.gpus_per_server
            if j.kind == "training":
                j.alone = training_step(j.workload.training, self.cluster.gpu, self.comm, j.placement, G, j.field)
            else:
                j.alone = inference_estimate(j.workload.inference, self.cluster.gpu, self.comm, j.placement, G, j.field)
                if j.stage == "replica":
                    low = j.workload.inference.model_copy(update={"batch": 1})
                    j.alone_low = inference_estimate(low, self.cluster.gpu, self.comm, j.placement, G, j.field)
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
            j.rates = self._rates(j, s)

    def _rates(self, j: JobRun, s: float) -> Rates:
        alone_step = j.alone.step_s if j.kind == "training" else j.alone.decode_iteration_s
        step = j.step_s()
        ok = math.isfinite(step) and step > 0
        if not ok:
            return Rates(False, step, alone_step, 0.0, 1.0, 0.0, 1.0, 0.0)
        cont = max(0.0, 1.0 - alone_step / step) if math.isfinite(alone_step) else 0.0
        r = Rates(True, step, alone_step, j.busy(), j.network_idle(), j.bubble(), cont, j.tokens_per_s())
        if j.kind == "inference":
            c = j.current
            r.input_per_s = c.input_tokens_per_s
            r.ttft_s, r.tpot_s = c.ttft_s, c.tpot_s
            low = j.alone_low.stretched(s) if j.alone_low is not None else None
            r.tpot_low_s = min(low.tpot_s, c.tpot_s) if low is not None else c.tpot_s
        else:
            r.mfu = j.current.mfu
        return r

    # -- storage and data, before each epoch ----------------------------------------------------------
    def _plan(self) -> None:
        if self.storage is None:
            return
        from tokenfab.factory.storage import Flow

        G = self.cluster.gpus_per_server
        flows = []
        for j in self.running:
            if j.kind != "training" or j.rates is None or not j.rates.ok:
                continue
            servers = len(np.unique(j.placement // G))
            client = self.storage.client_Bps(servers)
            if j.dataset is not None:
                ds = self.data.datasets[j.dataset]
                j.read_Bps = j.rates.tokens_per_s * ds.bytes_per_token
                flows.append(Flow(("read", j.name), ds.tier, False, j.read_Bps, client))
            if j.ckpt_interval_s:
                flows.append(Flow(("ckpt", j.name), j.ckpt_tier, True,
                                  j.ckpt_bytes / (j.ckpt_interval_s + j.ckpt_write_s), client))
        if self.data is not None:
            for p in self.data.pipelines:
                flows.append(Flow(("pipe", p.spec.name), p.spec.output.tier, True,
                                  self.data.write_demand_Bps(p, self.now, self.spec.tick_min * 60.0)))
        alloc = self.storage.allocate(flows)
        if self.data is not None:
            for p in self.data.pipelines:
                p.write_Bps = alloc.get(("pipe", p.spec.name), math.inf)
        for j in self.running:
            if j.kind != "training" or j.rates is None:
                continue
            if j.dataset is not None and j.read_Bps > 0:
                j.storage_factor = min(1.0, alloc.get(("read", j.name), j.read_Bps) / j.read_Bps)
            if j.ckpt_interval_s:
                j.ckpt_write_s = self._ckpt_write_s(j, len(np.unique(j.placement // G)))

    # -- one epoch -------------------------------------------------------------------------------------
    def _advance(self, t: float) -> None:
        dt = t - self.now
        if dt <= 0:
            self.now = max(self.now, t)
            return
        t0 = self.now
        # 1) how each job spends the epoch: recovering, loading, writing checkpoints, working
        split: dict[JobRun, tuple] = {}
        for j in self.running:
            a = min(dt, j.recover_s)
            j.recover_s -= a
            b = min(dt - a, j.load_s)
            j.load_s -= b
            rem = dt - a - b
            if j.ckpt_interval_s and rem > 0:
                work, write, j.ckpt_phase_s, done, mark = advance_cycle(j.ckpt_phase_s, j.ckpt_interval_s,
                                                                        j.ckpt_write_s, rem)
            else:
                work, write, done, mark = rem, 0.0, 0, -1.0
            split[j] = (a, b, work, write, done, mark)
        # 2) data arrives and flows through the pipelines into storage
        if self.data is not None:
            self.data.advance(t0, t)
        # 3) services serve their requests with the replicas' capacity
        for s in self.services:
            s.advance(t0, t, self.spec.request_bin_s, {j: v[2] for j, v in split.items() if j.stage == "replica"},
                      self.frontend)
        # 4) book every GPU-second
        alloc = busy = net_idle = tok = stor = starve = fail = low = other = 0.0
        gpu_w = 0.0
        p = self._pw
        read_Bps = write_Bps = 0.0
        for j in self.running:
            n = j.gpus
            a, b, work, write, done, mark = split[j]
            r = j.rates
            e_busy = e_net = e_stor = e_starve = e_low = e_other = 0.0
            e_fail = n * a
            e_stor = n * (b + write)
            if write and j.ckpt_write_s > 0:
                wb = j.ckpt_bytes * write / j.ckpt_write_s
                j.ckpt_written_bytes += wb
                self.storage.tiers[j.ckpt_tier].write("checkpoints", wb)
                write_Bps += wb / dt
            if r is not None and r.ok:
                if j.kind == "training":
                    sig = j.storage_factor
                    rate = r.tokens_per_s * sig
                    got = rate * work
                    limited = False
                    if j.dataset is not None and self.data is not None:
                        avail = max(self.data.available_tokens(j.dataset, j.max_epochs) - j.tokens, 0.0)
                        if avail < got:
                            got, limited = avail, True
                    if j.target_tokens is not None:
                        got = min(got, max(j.target_tokens - j.tokens, 0.0))
                    if j.target_steps is not None:
                        got = min(got, max(j.target_steps - j.steps, 0.0) * j.tokens_per_step)
                    prog = got / rate if rate > 0 else 0.0
                    rest = max(work - prog, 0.0)
                    e_busy = n * prog * sig * r.busy
                    e_net = n * prog * sig * r.net
                    e_other = n * prog * sig * max(1.0 - r.busy - r.net, 0.0)
                    e_stor += n * prog * (1.0 - sig)
                    if limited:
                        e_starve = n * rest
                    else:
                        e_other += n * rest
                    if done:
                        frac = (mark / work) if work > 0 and mark >= 0 else 1.0
                        j.tokens_at_ckpt = j.tokens + got * min(frac, 1.0)
                        j.steps_at_ckpt = j.tokens_at_ckpt / j.tokens_per_step
                        j.checkpoints += done
                    j.tokens += got
                    j.steps += got / j.tokens_per_step
                    if j.dataset is not None and self.data is not None:
                        ds = self.data.datasets[j.dataset]
                        nb = got * ds.bytes_per_token
                        j.read_bytes += nb
                        self.storage.tiers[ds.tier].read_bytes("training", nb)
                        read_Bps += nb / dt
                    j.w_mfu += r.mfu * dt
                    j.w_ideal_tokens += r.tokens_per_s * dt
                    tok += got / dt
                else:
                    ld = j.load if j.stage == "replica" else 1.0
                    e_busy = n * work * ld * r.busy
                    e_net = n * work * ld * r.net
                    e_other = n * work * ld * max(1.0 - r.busy - r.net, 0.0)
                    e_low = n * work * (1.0 - ld)
                    if j.stage == "replica":
                        out, inp = j.epoch_tokens, j.epoch_input
                    else:
                        out, inp = r.tokens_per_s * work, r.input_per_s * work
                    j.tokens += out
                    j.input_tokens += inp
                    j.w_ttft_s += r.ttft_s * dt
                    j.w_tpot_s += r.tpot_s * dt
                    tok += out / dt
                j.w_step_s += r.step_s * dt
                j.w_alone_step_s += r.alone_step_s * dt
                j.contention_gpu_s += n * dt * r.cont
                j.bubble_gpu_s += n * work * r.bubble
            else:
                e_net = n * work  # unreachable: it waits on the network
            j.gpu_s += n * dt
            j.run_s += dt
            j.busy_gpu_s += e_busy
            j.net_idle_gpu_s += e_net
            j.storage_gpu_s += e_stor
            j.starve_gpu_s += e_starve
            j.fail_gpu_s += e_fail
            j.lowdemand_gpu_s += e_low
            j.other_gpu_s += e_other
            bfrac = e_busy / (n * dt)
            w = n * (p["gpu_idle_w"] + (p["gpu_tdp_w"] - p["gpu_idle_w"]) * bfrac)
            j.energy_j += w * dt * self.spec.power.pue
            gpu_w += w
            alloc += n
            busy += e_busy / dt
            net_idle += e_net / dt
            stor += e_stor / dt
            starve += e_starve / dt
            fail += e_fail / dt
            low += e_low / dt
            other += e_other / dt
        for j in self.queue:  # restarting after a failure: the wait counts against its goodput
            if j.needs_restart and j.kind == "training" and j.rates is not None and j.rates.ok:
                j.w_ideal_tokens += j.rates.tokens_per_s * dt
        n_all = self.cluster.n_gpus
        G = self.cluster.gpus_per_server
        down = int(self.inv.down.sum()) * G
        free = max(n_all - alloc - down, 0.0)
        waiting = sum(j.gpus for j in self.queue)
        qidle = min(free, float(waiting))
        self.idle_down_gpu_s += down * dt
        self.queue_gpu_s += qidle * dt
        self.unallocated_gpu_s += (free - qidle) * dt
        gpu_w += (n_all - alloc) * p["gpu_idle_w"]
        frac = alloc / n_all if n_all else 0.0
        server_w = p["server_overhead_w"] * (p["server_idle_fraction"] + (1 - p["server_idle_fraction"]) * frac)
        cpu_w = self.cpu_power_w
        it_w = gpu_w + server_w + p["network_w"] + cpu_w
        self.epochs.append(Epoch(self.now, t, int(alloc), busy, net_idle, it_w * self.spec.power.pue, it_w,
                                 gpu_w, server_w, len(self.running), len(self.queue), tok, stor, starve,
                                 fail + down, low, qidle, other, down, cpu_w))
        if self.storage is not None:
            pipe = sum(s[3] for pp in self.data.pipelines for s in pp.series[-1:]) / dt if self.data else 0.0
            self.storage.record(t0, t, read_Bps + write_Bps + pipe)
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
        if self.layered:
            assumptions += self._layer_assumptions()
        return FactoryRun(self.spec, self.fabric, self.cluster, self.comm.name, self.jobs, self.epochs,
                          dict(sorted(self.link_peak.items())), dict(self._pw, cpu_w=self.cpu_power_w), assumptions,
                          storage=self.storage, data=self.data, services=self.services, lifecycles=self.lifecycles,
                          tenancy=self.tenancy, frontend=self.frontend, events=self.events,
                          idle_down_gpu_s=self.idle_down_gpu_s, queue_gpu_s=self.queue_gpu_s,
                          unallocated_gpu_s=self.unallocated_gpu_s)

    def _layer_assumptions(self) -> list[str]:
        s = self.spec
        out = [f"epochs at most {s.tick_min:g} min apart (data, services, autoscaling); request arrivals counted per "
               f"{s.request_bin_s:g} s bin (Poisson), queue by Lindley's recursion, TTFT/TPOT spread by Gamma "
               f"distributions (CV 0.5 / 0.1), 200 ms TCP RTO per lost frontend segment"]
        if self.storage is not None:
            out.append(f"storage fabric: {self.storage.fabric_source}; x{0.9} protocol efficiency; clients limited by "
                       f"their storage NICs ({self.storage.client_per_server_Bps / 1e9:.1f} GB/s per server); max-min "
                       f"fair sharing of steady flows, bursts get the rest")
        if s.cpu_pools:
            out.append("CPU pools: every node draws its power_w all the time (in the facility energy) and costs its "
                       "usd_per_hour (hardware and operations); pipeline stages share their pipeline's nodes")
        if s.storage is not None:
            out.append("storage tiers cost usd_per_tb_month of capacity (defaults: ~public-cloud list prices, $140/TB-month "
                       "parallel FS, $23 object store); storage servers' power is not in the BOM")
        ck = s.checkpoint
        if ck is not None and ck.interval_min != "off":
            out.append(f"checkpoints: {ck.bytes_per_param:g} bytes/parameter, synchronous writes, interval "
                       f"{'Young/Daly sqrt(2 C MTBF)' if ck.interval_min == 'auto' else f'{ck.interval_min:g} min'}")
        f = self.failure_spec
        if s.failures is not None and f.enabled:
            out.append(f"failures: {f.interruptions:g} interruptions / {f.days:g} days / {f.gpus:,} GPUs x {f.scale:g} "
                       f"= {f.per_gpu_s * 3600:.3g} per GPU-hour (Llama 3); {f.network_share:.1%} fabric links; restart "
                       f"{f.restart_min:g} min + restore; servers repaired in {f.repair_h:g} h, links in {f.link_repair_h:g} h")
        return out


def _model(w: Workload):
    from tokenfab.workload.models import get_model

    return get_model((w.training or w.inference).model)


def _params(j: JobRun) -> float:
    return float(_model(j.workload).params)


def make_comm(spec: FactorySpec) -> Callable[[Cluster], CommModel]:
    """The communication model the description asks for."""
    from tokenfab.factory.network import AnalyticalComm

    if spec.network.model == "simulator":
        from tokenfab.factory.simcomm import SimulatorComm

        return lambda cl: SimulatorComm(cl, routing=spec.network.routing, seed=spec.seed, qps=spec.network.qps)
    return lambda cl: AnalyticalComm(cl, spec.network.analytical)


def run_factory(spec: FactorySpec, fabric: Fabric) -> FactoryRun:
    return Engine(spec, fabric, make_comm(spec)).run()
