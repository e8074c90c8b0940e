"""The factory's event loop: epochs between events, rates constant inside an epoch.

`Engine.run` reads in one screen: pop the events due, advance the accounting to them, apply them,
schedule. Events (job arrivals, faults, failures, ticks, lifecycle steps, the window's end;
completions are found from the current rates) are processed in time order. After each batch the
scheduler places what it can, and only when a placement or the fabric changed are rates
recomputed. Between events every job progresses at its rate, and the epoch's GPU time, tokens and
power are integrated exactly.

The rooms, by noun:
    jobs.py        job records: the request, checkpoint state, the tally
    rates.py       a job's step time alone on its placement, then contention on the fabric
    epoch.py       one epoch: progress, GPU time booked by cause, power
    accounting.py  the Cause enum and GPU-time vectors (conservation in one line)
    checkpoint.py  Young/Daly cycles, checkpoint sizes, writes and restores
    power.py       facility power and capex from the design's BOM
    scheduler.py   placement policies over the inventory of free GPUs
and the seven layers:
    data.py       sources -> pipelines on CPU nodes -> versioned datasets (advanced every epoch)
    storage.py    tiers over the storage fabric: dataset reads, checkpoints, restores, weights
    network.py / simcomm.py   the backend fabric, with its faults and impairments
    lifecycle.py  train -> evaluate -> register -> deploy, retraining on schedule or new data
    services.py   inference endpoints: arrivals, queueing, SLOs, autoscaled replicas, frontend
    tenancy.py    quotas and sovereignty (the scheduler only ever sees a tenant's own servers)
    failures.py   interruptions at Llama 3's rate; restarts from checkpoints

When the description uses a layer beyond jobs, a tick every `tick_min` bounds epochs so that
daily swings, pipelines and autoscaling follow time.

`Engine.on(kind, handler)` adds event kinds and `Engine.observers` per-epoch accounting.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.factory import accounting, checkpoint, epoch, impairments, layers, rates
from tokenfab.factory.assumptions import assumptions
from tokenfab.factory.checkpoint import time_for_work
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.epoch import Epoch
from tokenfab.factory.jobs import JobRun, expand_jobs, make_run
from tokenfab.factory.power import PowerModel
from tokenfab.factory.scheduler import POLICIES, Inventory, place
from tokenfab.factory.services import autoscale
from tokenfab.factory.spec import FactorySpec, Failures, Problems, Workload
from tokenfab.workload.comm import CommModel

if TYPE_CHECKING:
    from tokenfab.factory.data import DataLayer
    from tokenfab.factory.failures import FailureHandler
    from tokenfab.factory.lifecycle import LifecycleRun, Orchestrator
    from tokenfab.factory.services import Frontend, ServiceRun
    from tokenfab.factory.storage import StorageLayer
    from tokenfab.factory.tenancy import Tenancy

__all__ = ["Engine", "Epoch", "FactoryRun", "JobRun", "expand_jobs", "make_comm", "run_factory"]


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
    power: PowerModel
    assumptions: list[str]
    storage: StorageLayer | None = None
    data: DataLayer | None = None
    services: list[ServiceRun] = field(default_factory=list)
    lifecycles: list[LifecycleRun] = field(default_factory=list)
    tenancy: Tenancy | None = None
    frontend: Frontend | None = None
    events: list[dict] = field(default_factory=list)  # timeline: failures, faults, deployments
    idle_gpu_s: np.ndarray = field(default_factory=accounting.zeros)  # by Cause, GPU time no job held
    plots: dict[str, str] = field(default_factory=dict)  # SVGs made for the report, reused by the HTML page

    def gpu_s_by_cause(self) -> np.ndarray:
        """Every GPU-second of the window by Cause (sums to GPUs x window)."""
        return accounting.total(self.idle_gpu_s, [j.acc.gpu_s_by_cause for j in self.jobs])


class Engine:
    """The factory over its window. The layers (layers.py) add: storage, data, tenancy, services,
    lifecycles (orchestrator), failures, frontend."""

    layered: bool  # any layer beyond jobs: ticks bound the epochs
    storage: StorageLayer | None
    data: DataLayer | None
    tenancy: Tenancy
    failure_spec: Failures
    services: list[ServiceRun]
    svc_by_name: dict[str, ServiceRun]
    orchestrator: Orchestrator
    lifecycles: list[LifecycleRun]
    failures: FailureHandler
    frontend: Frontend

    def __init__(self, spec: FactorySpec, fabric: Fabric, comm_factory: Callable[[Cluster], CommModel]):
        self.spec = spec
        self.fabric = fabric
        self.cluster = Cluster(fabric)
        self.comm = comm_factory(self.cluster)
        self.inv = Inventory(self.cluster)
        self.policy = POLICIES[spec.scheduler.policy]()
        problems = Problems()  # every job that does not fit and every unknown device, in one error
        self.jobs = expand_jobs(spec, self.cluster, problems)
        for i, f in enumerate(spec.faults):
            for key, ref in (("down", f.down), ("where", f.where)):
                if ref is not None:
                    try:
                        self.cluster.check_device(ref, f"faults.{i}.{key}")
                    except InputError as exc:
                        problems.add_error(exc)
        problems.raise_all()
        self.now = 0.0
        self.end = spec.window_s
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "arrive": self._arrive,
            "fault": self._fault,
            "restore": self._restore,
            "impair": self._impair_event,
            "tick": self._tick,
        }
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
        self.idle_gpu_s = accounting.zeros()  # GPU time no job held: servers down, queueing, unallocated
        self.power = PowerModel.of(spec, fabric, self.cluster)
        layers.setup(self)

    def job_storage_setup(self, j: JobRun) -> None:
        """Checkpoint size and tier of a training job (before it is first placed)."""
        checkpoint.configure(self, j, _params(j) if j.kind == "training" else 0.0)

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
        self.log("impairment", ("start: " if on else "end: ") + impairments.describe(self.spec.faults[i]))
        impairments.apply(self, [self.spec.faults[i] for i in sorted(self._active_faults)])

    # -- failures -----------------------------------------------------------------------------------
    def interrupt(self, j: JobRun) -> None:
        """The job's server failed: roll back to its last checkpoint, give its GPUs back, restart."""
        acc, ck = j.acc, j.ckpt
        acc.interruptions += 1
        if j.kind == "training":
            lost = max(acc.tokens - ck.tokens_at, 0.0)
            r = j.rates
            if lost > 0 and r is not None and r.ok and r.tokens_per_s > 0:
                # the GPU time that computed the lost work now counts as lost to the failure
                lost_s = lost / (r.tokens_per_s * j.storage_factor) * j.gpus
                acc.lost_gpu_s += accounting.rollback(acc.gpu_s_by_cause, lost_s, r.busy, r.net, j.storage_factor)
            acc.lost_tokens += lost
            acc.tokens = ck.tokens_at
            acc.steps = ck.steps_at
            ck.phase_s = 0.0
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
        """Pop events, advance accounting, apply events, schedule, until the window ends."""
        self._seed_events()
        dirty = True
        while True:
            if dirty:  # a placement or the fabric changed
                rates.refresh(self)
                dirty = False
            self._plan_storage()
            t_next = min(
                [self.end, *(t for t, *_ in self._heap[:1]), *(self.now + self._time_to_finish(j) for j in self.running)]
            )
            epoch.advance(self, t_next)  # progress, GPU time by cause, power
            if self.now >= self.end:
                break
            finished = self._finish_completed()
            applied = self._apply_due_events()
            if finished or applied:
                self._schedule()
            dirty, self.changed = self.changed, False
        for j in self.running:
            j.end_s = None
            if j.history:
                j.history[-1] = (j.history[-1][0], None, j.history[-1][2])
        return self._result()

    def _seed_events(self) -> None:
        """Arrivals, faults, ticks and drawn failures of the whole window."""
        from tokenfab.factory import failures

        for j in self.jobs:
            if j.req.arrive_s < self.end:
                self.push(j.req.arrive_s, "arrive", j)
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
            srv[nic] = self.cluster.server_of_row(L["a"][nic])
            for ev in failures.draw(
                fs,
                self.cluster.n_gpus,
                self.cluster.gpus_per_server,
                kinds,
                srv,
                self.end,
                np.random.default_rng([self.spec.seed, 1]),
            ):
                self.push(ev.t_s, "fail", ev)

    def _finish_completed(self) -> bool:
        """Finish every running job whose work is done now."""
        acted = False
        for j in list(self.running):
            if self._time_to_finish(j) <= 1e-6:
                self._finish(j)
                acted = True
        return acted

    def _apply_due_events(self) -> bool:
        """Handle every event due by now, including those the handlers schedule for now."""
        acted = False
        while self._heap and self._heap[0][0] <= self.now:
            _, _, kind, payload = heapq.heappop(self._heap)
            self.handlers[kind](payload)
            acted = True
        return acted

    def _time_to_finish(self, j: JobRun) -> float:
        t = j.until_s - self.now
        r, req, acc, ck = j.rates, j.req, j.acc, j.ckpt
        if r is None or not r.ok or r.tokens_per_s <= 0 or j.kind != "training":
            return max(t, 0.0)
        rate = r.tokens_per_s * j.storage_factor
        left = math.inf
        if req.target_steps is not None:
            left = (req.target_steps - acc.steps) * req.tokens_per_step
        if req.target_tokens is not None:
            left = min(left, req.target_tokens - acc.tokens)
        if not math.isfinite(left):
            return max(t, 0.0)
        if left <= 1e-9 * max(req.tokens_per_step, 1.0):
            return 0.0
        if req.dataset is not None and self.data is not None:
            avail = self.data.available_tokens(req.dataset, req.max_epochs) - acc.tokens
            if avail < left:  # it will have to wait for data: no sooner than the data arrives
                g = self.data.growth_tokens_per_s(req.dataset, req.max_epochs)
                rate = min(rate, g) if avail <= 0 else rate
                if rate <= 0:
                    return max(t, 0.0)
        work = left / rate
        wall = j.recover_s + j.load_s + (time_for_work(ck.phase_s, ck.interval_s, ck.write_s, work) if ck.interval_s else work)
        return max(min(t, wall), 0.0)

    def _quota_ok(self, j: JobRun) -> bool:
        q = self.tenancy.quota.get(j.tenant)
        if q is None:
            return True
        used = self.inv.tenant_gpus.get(j.tenant)
        return (0 if used is None else int(used.sum())) + j.gpus <= q

    def _schedule(self) -> None:
        self.queue.sort(key=lambda j: (-j.req.priority, j.req.arrive_s, j.req.order))
        started = []
        for j in self.queue:
            got = place(self.inv, self.policy, list(j.req.units), j.tenant) if self._quota_ok(j) else None
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
            j.until_s = self.now + j.req.duration_s if j.req.duration_s else math.inf
        j.history.append((self.now, None, got))
        self.running.append(j)
        self.changed = True
        servers = len(np.unique(got // self.cluster.gpus_per_server))
        if j.kind == "training" and j.ckpt.setting is not None and j.ckpt.interval_s is None:
            checkpoint.first_start(self, j, servers)
        if j.needs_restart:
            j.needs_restart = False
            restore = checkpoint.restore_s(self, j, servers) if j.kind == "training" else 0.0
            j.recover_s = self.failure_spec.restart_min * 60.0 + restore
        if j.stage == "replica":
            self.load_weights(j, servers)

    def load_weights(self, j: JobRun, servers: int) -> None:
        if self.storage is None:
            return
        tier = self.tenancy.registry_tier.get(j.tenant, self.spec.storage.registry_tier)
        nbytes = _params(j) * (1.0 if j.workload.inference.precision == "fp8" else 2.0)
        bw = self.storage.burst_bytes_per_s(tier, False, self.storage.client_bytes_per_s(servers))
        j.load_s += nbytes / bw
        self.storage.tiers[tier].read_bytes("model-load", nbytes)

    def _release(self, j: JobRun) -> None:
        if j in self.running:
            self.running.remove(j)
        if j.placement is None:
            return
        offset = 0
        for u in j.req.units:
            self.inv.give_back(j.placement[offset : offset + u], j.tenant)
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
        if j.ckpt.reserved_bytes:  # a finished job's checkpoints are deleted (its model is registered)
            self.storage.tiers[j.ckpt.tier].occupy(-j.ckpt.reserved_bytes)
            j.ckpt.reserved_bytes = 0.0
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
        j = make_run(self.cluster, name, tenant, w, wf, self.now, priority, self._order, **kw)
        self._order += 1
        self.jobs.append(j)
        j.status = "queued"
        self.queue.append(j)
        return j

    # -- storage and data, before each epoch ----------------------------------------------------------
    def _plan_storage(self) -> None:
        """Share the storage fabric between dataset reads, checkpoints and pipelines for the next epoch."""
        if self.storage is None:
            return
        from tokenfab.factory.storage import Flow

        G = self.cluster.gpus_per_server
        flows = []
        for j in self.running:
            if j.kind != "training" or j.rates is None or not j.rates.ok:
                continue
            servers = len(np.unique(j.placement // G))
            client = self.storage.client_bytes_per_s(servers)
            if j.req.dataset is not None:
                ds = self.data.datasets[j.req.dataset]
                j.read_bytes_per_s = j.rates.tokens_per_s * ds.bytes_per_token
                flows.append(Flow(("read", j.name), ds.tier, False, j.read_bytes_per_s, client))
            if j.ckpt.interval_s:
                flows.append(
                    Flow(("ckpt", j.name), j.ckpt.tier, True, j.ckpt.bytes / (j.ckpt.interval_s + j.ckpt.write_s), client)
                )
        if self.data is not None:
            for p in self.data.pipelines:
                flows.append(
                    Flow(
                        ("pipe", p.spec.name),
                        p.spec.output.tier,
                        True,
                        self.data.write_demand_bytes_per_s(p, self.now, self.spec.tick_min * 60.0),
                    )
                )
        alloc = self.storage.allocate(flows)
        if self.data is not None:
            for p in self.data.pipelines:
                p.write_bytes_per_s = alloc.get(("pipe", p.spec.name), math.inf)
        for j in self.running:
            if j.kind != "training" or j.rates is None:
                continue
            if j.req.dataset is not None and j.read_bytes_per_s > 0:
                j.storage_factor = min(1.0, alloc.get(("read", j.name), j.read_bytes_per_s) / j.read_bytes_per_s)
            if j.ckpt.interval_s:
                j.ckpt.write_s = checkpoint.write_s(self, j, len(np.unique(j.placement // G)))

    def _result(self) -> FactoryRun:
        return FactoryRun(
            self.spec,
            self.fabric,
            self.cluster,
            self.comm.name,
            self.jobs,
            self.epochs,
            dict(sorted(self.link_peak.items())),
            self.power,
            assumptions(self),
            storage=self.storage,
            data=self.data,
            services=self.services,
            lifecycles=self.lifecycles,
            tenancy=self.tenancy,
            frontend=self.frontend,
            events=self.events,
            idle_gpu_s=self.idle_gpu_s,
        )


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
