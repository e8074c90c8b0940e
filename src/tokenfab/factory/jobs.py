"""Job records: what was asked (`JobRequest`), where it stands (`JobRun`), what it accumulated
(`JobTally`, with GPU time by `Cause`) and its checkpoints (`CheckpointState`, checkpoint.py).

A job is a training run, an inference job, a lifecycle stage (train, evaluate) or one replica of
a service. Its request never changes once submitted; the run holds the state the event loop moves
(status, placement, rates, time left recovering or loading weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tokenfab.errors import InputError
from tokenfab.factory import accounting
from tokenfab.factory.checkpoint import CheckpointState
from tokenfab.factory.spec import FactorySpec, Problems, Workload, job_names
from tokenfab.workload.inference import InferenceResult, check_inference, replica_units
from tokenfab.workload.training import TrainingStep, check_training

if TYPE_CHECKING:
    from tokenfab.factory.cluster import Cluster

Estimate = TrainingStep | InferenceResult


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


@dataclass(frozen=True)
class JobRequest:
    """What was submitted: who, what, how much, and where it is defined (for errors)."""

    name: str
    tenant: str
    kind: str  # training | inference
    workload: Workload
    field: str  # where it is defined in the factory file
    arrive_s: float
    priority: int
    order: int  # submission order, the scheduler's tie-break
    units: tuple[int, ...]  # GPUs per placement unit (one for training, one per stage for inference)
    target_steps: float | None = None
    target_tokens: float | None = None
    duration_s: float | None = None
    stage: str = "job"  # job | train | evaluate | replica
    service: str | None = None
    lifecycle: str | None = None
    dataset: str | None = None
    max_epochs: float = 1.0

    @property
    def gpus(self) -> int:
        return int(sum(self.units))

    @property
    def tokens_per_step(self) -> float:
        return float(self.workload.training.tokens_per_step) if self.workload.training else 1.0


@dataclass
class JobTally:
    """What a job accumulated over the window."""

    gpu_s_by_cause: np.ndarray = field(default_factory=accounting.zeros)  # indexed by Cause
    gpu_s: float = 0.0  # held GPUs x time (the sum of gpu_s_by_cause)
    contention_gpu_s: float = 0.0  # part of its time lost to other jobs on the fabric (inside network)
    bubble_gpu_s: float = 0.0  # pipeline bubble (inside other_overhead)
    run_s: float = 0.0
    steps: float = 0.0
    tokens: float = 0.0  # training tokens, or inference output tokens
    input_tokens: float = 0.0
    read_bytes: float = 0.0
    ideal_tokens: float = 0.0  # what it would have made running flat out since it started (goodput)
    interruptions: int = 0
    lost_tokens: float = 0.0
    lost_gpu_s: float = 0.0
    energy_j: float = 0.0
    # time-weighted sums, for means over the time it ran
    w_step_s: float = 0.0
    w_alone_step_s: float = 0.0
    w_ttft_s: float = 0.0
    w_tpot_s: float = 0.0
    w_mfu: float = 0.0


@dataclass(eq=False)
class JobRun:
    """One job's life in the factory: its request, state, checkpoints and tally."""

    req: JobRequest
    ckpt: CheckpointState = field(default_factory=CheckpointState)
    acc: JobTally = field(default_factory=JobTally)
    status: str = "pending"  # pending | queued | running | done | failed | stopped
    placement: np.ndarray | None = None
    start_s: float | None = None
    end_s: float | None = None
    until_s: float = math.inf
    version: int = 0  # model version it trains or serves
    history: list[tuple[float, float | None, np.ndarray]] = field(default_factory=list)  # (start, end, GPUs)
    # estimates on its placement: alone, with contention, and at one sequence per rank (replicas)
    alone: Estimate | None = None
    current: Estimate | None = None
    alone_low: InferenceResult | None = None
    alone_key: tuple[int, bytes] | None = None
    rates: Rates | None = None
    contended_on: list[str] = field(default_factory=list)
    stalled: bool = False  # its collectives cannot reach their peers (links down): no progress
    recover_s: float = 0.0  # restart + restore left after a failure
    load_s: float = 0.0  # weights still loading (service replicas)
    needs_restart: bool = False
    storage_factor: float = 1.0  # progress kept given its dataset read bandwidth
    read_bytes_per_s: float = 0.0  # dataset read rate at full speed
    load: float = 1.0  # share of its capacity a service replica used this epoch
    epoch_tokens: float = 0.0  # a replica's output and input tokens this epoch (services.py)
    epoch_input: float = 0.0

    # the request's identity, read everywhere
    @property
    def name(self) -> str:
        return self.req.name

    @property
    def tenant(self) -> str:
        return self.req.tenant

    @property
    def kind(self) -> str:
        return self.req.kind

    @property
    def workload(self) -> Workload:
        return self.req.workload

    @property
    def stage(self) -> str:
        return self.req.stage

    @property
    def service(self) -> str | None:
        return self.req.service

    @property
    def lifecycle(self) -> str | None:
        return self.req.lifecycle

    @property
    def gpus(self) -> int:
        return self.req.gpus

    # -- rates under the current estimate ------------------------------------------------------
    def step_s(self) -> float:
        c = self.current
        return c.step_s if isinstance(c, TrainingStep) else c.decode_iteration_s

    def tokens_per_s(self) -> float:
        c = self.current
        return c.tokens_per_s if isinstance(c, TrainingStep) else c.output_tokens_per_s

    def busy(self) -> float:
        return self.current.busy_fraction

    def network_idle(self) -> float:
        c = self.current
        return c.network_idle_s / c.step_s if isinstance(c, TrainingStep) else c.network_idle_fraction

    def bubble(self) -> float:
        c = self.current
        return c.bubble_s / c.step_s if isinstance(c, TrainingStep) else 0.0


def units_of(w: Workload, gpus_per_server: int, wf: str) -> list[int]:
    """GPUs per placement unit of a workload, checked (bad input raises InputError at `wf`)."""
    if w.training:
        check_training(w.training, gpus_per_server, wf)
        return [w.training.gpus]
    check_inference(w.inference, gpus_per_server, wf)
    return replica_units(w.inference)


def make_run(
    cluster: Cluster,
    name: str,
    tenant: str,
    w: Workload,
    wf: str,
    arrive: float,
    priority: int,
    order: int,
    ckpt_setting: float | str | None = None,
    version: int = 0,
    **request,
) -> JobRun:
    """A job of the description, checked against the fabric (bad input raises InputError)."""
    G = cluster.gpus_per_server
    units = units_of(w, G, wf)
    for u in units:
        if u > G and u % G:
            raise InputError(
                f"a unit of {u} GPUs spans servers but is not a multiple of the {G} GPUs of a server "
                f"(whole servers only across servers)",
                f"{wf}.parallelism" if w.training else wf,
            )
    if sum(units) > cluster.n_gpus:
        raise InputError(
            f"job {name!r} needs {sum(units):,} GPUs; the fabric {cluster.fabric.intent.name!r} has {cluster.n_gpus:,}",
            wf.rsplit(".", 1)[0] if wf.startswith("jobs.") else wf,
        )
    req = JobRequest(name, tenant, w.kind, w, wf, arrive, priority, order, tuple(units), **request)
    return JobRun(req, CheckpointState(setting=ckpt_setting), version=version)


def expand_jobs(spec: FactorySpec, cluster: Cluster, problems: Problems | None = None) -> list[JobRun]:
    """Jobs of the description, checked against the fabric. A job that does not fit is a problem
    in `problems` (when given; else every one is raised in one InputError)."""
    p = problems if problems is not None else Problems()
    out: list[JobRun] = []
    order = 0
    for i, j in enumerate(spec.jobs):
        try:
            w = spec.workload_of(j)
            fld = f"workloads.{j.workload}" if j.workload else f"jobs.{i}"
            wf = f"{fld}.{w.kind}"
            if w.training:
                check_training(w.training, cluster.gpus_per_server, wf)
            if w.gpus > cluster.n_gpus:
                raise InputError(
                    f"job {j.name!r} needs {w.gpus:,} GPUs; the fabric {cluster.fabric.intent.name!r} has {cluster.n_gpus:,}",
                    f"jobs.{i}",
                )
            for k, name in enumerate(job_names(j)):
                arrive = (j.arrive_h + k * j.every_h) * 3600.0
                out.append(
                    make_run(
                        cluster,
                        name,
                        j.tenant,
                        w,
                        wf,
                        arrive,
                        j.priority,
                        order,
                        ckpt_setting=j.checkpoint_min,
                        target_steps=float(j.steps) if j.steps else None,
                        target_tokens=j.tokens,
                        duration_s=j.duration_h * 3600.0 if j.duration_h else None,
                        dataset=j.dataset,
                        max_epochs=j.max_epochs,
                    )
                )
                order += 1
        except InputError as exc:
            p.add_error(exc)
    if problems is None:
        p.raise_all()
    return out
