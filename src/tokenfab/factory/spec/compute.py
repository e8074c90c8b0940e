"""Compute: how communication is modelled, how jobs are scheduled, the workloads and the jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from tokenfab.errors import InputError
from tokenfab.factory.network import AnalyticalConfig
from tokenfab.factory.spec.common import NAME, Problems
from tokenfab.factory.spec.tenancy import check_tenant
from tokenfab.strict import StrictModel
from tokenfab.workload.inference import InferenceSpec
from tokenfab.workload.models import get_model
from tokenfab.workload.training import TrainingSpec

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class Network(StrictModel):
    """How communication time is computed: the flow simulator (routing, ECMP collisions and
    failures show up) or the analytical alpha-beta model (ideal load balancing, much faster)."""

    model: Literal["simulator", "analytical"] = Field("simulator", description="Communication model.")
    routing: Literal["ecmp", "adaptive", "spray"] = Field(
        "ecmp", description="How flows spread over equal-cost paths (simulator only)."
    )
    qps: int = Field(
        1,
        ge=1,
        le=16,
        description="RDMA queue pairs per connection, each hashed on its own (NCCL_IB_QPS_PER_CONNECTION; simulator only).",
    )
    analytical: AnalyticalConfig = Field(AnalyticalConfig(), description="Efficiencies and latencies of the analytical model.")


class Scheduler(StrictModel):
    """How queued jobs are placed on free GPUs."""

    policy: Literal["topology-aware", "first-fit"] = Field(
        "topology-aware",
        description="topology-aware keeps a job in as few scalable units as it can; first-fit takes the first free GPUs.",
    )
    backfill: bool = Field(True, description="A later job may start when the head of the queue does not fit.")


class Workload(StrictModel):
    """A named workload: exactly one of training or inference."""

    training: TrainingSpec | None = Field(None, description="A training job's model, parallelism and batch.")
    inference: InferenceSpec | None = Field(None, description="An inference replica's model, parallelism and batch.")

    @model_validator(mode="after")
    def _one(self) -> Workload:
        if (self.training is None) == (self.inference is None):
            raise ValueError("give exactly one of training or inference")
        return self

    @property
    def kind(self) -> str:
        return "training" if self.training else "inference"

    @property
    def gpus(self) -> int:
        return self.training.gpus if self.training else self.inference.gpus


class Job(StrictModel):
    """A job arriving at the factory. Training stops after `steps` (or `tokens`), or at
    `duration_h`; inference runs for `duration_h` (default: to the end of the window)."""

    name: str = Field(pattern=NAME, description="Job name (copies are named <name>-1, <name>-2, ...).")
    tenant: str = Field("default", description="The tenant it belongs to.")
    workload: str | None = Field(None, description="A key of `workloads` (or give training/inference inline).")
    training: TrainingSpec | None = Field(None, description="An inline training workload.")
    inference: InferenceSpec | None = Field(None, description="An inline inference workload.")
    arrive_h: float = Field(0.0, ge=0, description="Arrival, hours into the window.")
    priority: int = Field(0, description="Higher is placed first.")
    steps: PositiveInt | None = Field(None, description="Training steps to run.")
    tokens: float | None = Field(None, gt=0, description="Training tokens to process.")
    duration_h: float | None = Field(None, gt=0, description="Hours it runs for.")
    count: PositiveInt = Field(1, description="Copies of the job.")
    every_h: float = Field(0.0, ge=0, description="Arrival spacing of the copies.")
    dataset: str | None = Field(
        None, description="Dataset the training reads (storage bandwidth; it starves when the dataset runs dry)."
    )
    max_epochs: float = Field(1.0, gt=0, description="Passes over the dataset the job may make.")
    checkpoint_min: float | Literal["auto", "off"] | None = Field(
        None, description="Minutes between checkpoints, auto (Young/Daly) or off; default: the factory's `checkpoint`."
    )

    @model_validator(mode="after")
    def _one(self) -> Job:
        given = [k for k in ("workload", "training", "inference") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of workload (a name from workloads), training or inference")
        if self.inference is not None and (self.steps or self.tokens):
            raise ValueError("steps and tokens apply to training jobs; an inference service runs for duration_h")
        return self


def job_names(job: Job) -> list[str]:
    return [job.name] if job.count == 1 else [f"{job.name}-{k + 1}" for k in range(job.count)]


def check_model(p: Problems, w: object, field: str) -> None:
    """The model a workload, job or service (`w`, its training or inference given inline) runs is
    one of the model library's."""
    for kind in ("training", "inference"):
        given = getattr(w, kind, None)
        if given is not None:
            try:
                get_model(given.model, f"{field}.{kind}.model")
            except InputError as exc:
                p.add_error(exc)


def check(spec: FactorySpec, p: Problems, datasets: dict[str, str]) -> None:
    """Workloads' models; jobs: their workload (or model), tenant, unique names, and the dataset
    they read (`datasets`: name -> tenant)."""
    for name, w in spec.workloads.items():
        check_model(p, w, f"workloads.{name}")
    seen: set[str] = set()
    for i, j in enumerate(spec.jobs):
        f = f"jobs.{i}"
        check_model(p, j, f)
        if j.workload is not None:
            p.one_of(j.workload, spec.workloads, f"{f}.workload", "workload")
        check_tenant(spec, p, j.tenant, f"{f}.tenant")
        for name in job_names(j):
            if name in seen:
                p.add(f"{f}.name", f"job name {name!r} is used twice")
            seen.add(name)
        if j.dataset is not None:
            if p.one_of(j.dataset, datasets, f"{f}.dataset", "dataset") and datasets[j.dataset] != j.tenant:
                p.add(f"{f}.dataset", f"dataset {j.dataset!r} belongs to tenant {datasets[j.dataset]!r}, not {j.tenant!r}")
            if j.workload is None or j.workload in spec.workloads:
                if spec.workload_of(j).kind != "training":
                    p.add(f"{f}.dataset", "only training jobs read a dataset")
