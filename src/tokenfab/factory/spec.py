"""The factory description (YAML) as typed models.

    name: factory-256
    fabric: rail-optimized-256.yaml      # an intent YAML or a plan folder, relative to this file
    window_h: 24
    network: {model: simulator}           # flow-level (default) or analytical (alpha-beta)
    scheduler: {policy: topology-aware}   # or first-fit
    tenants: [{name: research}, {name: acme}]
    workloads:                            # named workload definitions
      llama70b-pretrain: {training: {...}}
      chat: {inference: {...}}
    jobs:                                 # what arrives when
      - {name: pretrain, tenant: research, workload: llama70b-pretrain, arrive_h: 0, steps: 2000}
      - {name: chat, tenant: acme, workload: chat, arrive_h: 1, duration_h: 12}
    faults: [{at_h: 6, down: spine-1, up_h: 8}]
    compare:                              # variants run side by side in the same call
      - {name: first-fit, scheduler: {policy: first-fit}}
      - {name: spine-1-down, faults: [{at_h: 0, down: spine-1}]}

Each top-level section is one layer of the factory. Later layers (data sources, pipelines,
storage, sovereignty, failure rates) add sections here and event kinds in engine.py; the keys
above stay as they are. Unknown keys are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from tokenfab.errors import InputError
from tokenfab.factory.network import AnalyticalConfig
from tokenfab.intent import _format_validation
from tokenfab.workload.inference import InferenceSpec
from tokenfab.workload.training import TrainingSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(_Strict):
    """How communication time is computed: the flow simulator (routing, ECMP collisions and
    failures show up) or the analytical alpha-beta model (ideal load balancing, much faster)."""

    model: Literal["simulator", "analytical"] = "simulator"
    routing: Literal["ecmp", "adaptive", "spray"] = "ecmp"  # simulator only
    qps: int = Field(1, ge=1, le=16)  # QPs per connection (NCCL_IB_QPS_PER_CONNECTION), simulator only
    analytical: AnalyticalConfig = AnalyticalConfig()


class Scheduler(_Strict):
    policy: Literal["topology-aware", "first-fit"] = "topology-aware"
    backfill: bool = True  # a later job may start when the head of the queue does not fit


class Power(_Strict):
    pue: float = Field(1.3, ge=1.0, le=3.0)
    gpu_idle_fraction: float = Field(0.10, ge=0, le=1)  # idle draw as a share of TDP (~70 W for H100)
    # server power beyond its GPUs (CPUs, memory, fans, NICs): from the catalog's max system power;
    # drawn at this share when idle, full when its GPUs are busy
    server_overhead_idle_fraction: float = Field(0.5, ge=0, le=1)


class Cost(_Strict):
    gpu_hour_usd: float | None = Field(None, ge=0)  # set to price the GPUs as rented; default: TCO
    amortization_years: float = Field(4.0, gt=0)
    electricity_usd_per_kwh: float = Field(0.10, ge=0)
    # yearly operations (staff, support, facility space) as a share of capital cost
    opex_percent_of_capex: float = Field(8.0, ge=0)
    goodput: float = Field(0.90, gt=0, le=1)  # for the training-cost formula (Llama 3: >90% effective time)


class Tenant(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class Workload(_Strict):
    training: TrainingSpec | None = None
    inference: InferenceSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> "Workload":
        if (self.training is None) == (self.inference is None):
            raise ValueError("give exactly one of training or inference")
        return self

    @property
    def kind(self) -> str:
        return "training" if self.training else "inference"

    @property
    def gpus(self) -> int:
        return self.training.gpus if self.training else self.inference.gpus


class Job(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    tenant: str = "default"
    workload: str | None = None  # a key of `workloads`
    training: TrainingSpec | None = None  # or inline
    inference: InferenceSpec | None = None
    arrive_h: float = Field(0.0, ge=0)
    priority: int = 0  # higher first
    # how long it runs: training stops after `steps` (or `tokens`), or at `duration_h`;
    # inference runs for `duration_h` (default: to the end of the window)
    steps: PositiveInt | None = None
    tokens: float | None = Field(None, gt=0)
    duration_h: float | None = Field(None, gt=0)
    count: PositiveInt = 1  # copies, named <name>-1, <name>-2, ...
    every_h: float = Field(0.0, ge=0)  # arrival spacing of the copies

    @model_validator(mode="after")
    def _one(self) -> "Job":
        given = [k for k in ("workload", "training", "inference") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of workload (a name from workloads), training or inference")
        if self.inference is not None and (self.steps or self.tokens):
            raise ValueError("steps and tokens apply to training jobs; an inference service runs for duration_h")
        return self


class Fault(_Strict):
    """A device or link down at `at_h`, back at `up_h` (never, if omitted). Names as on the command
    line: `spine-1`, `leaf-r1-1:Ethernet256`, `leaf-r1-1--spine-1`."""

    at_h: float = Field(ge=0)
    down: str
    up_h: float | None = None

    @model_validator(mode="after")
    def _order(self) -> "Fault":
        if self.up_h is not None and self.up_h <= self.at_h:
            raise ValueError(f"up_h ({self.up_h}) must be after at_h ({self.at_h})")
        return self


class Variant(BaseModel):
    """A named change to the base description; its keys replace the base's top-level sections."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class FactorySpec(_Strict):
    name: str = Field("factory", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    description: str = ""
    fabric: str  # intent YAML or plan folder, relative to the factory file
    window_h: float = Field(24.0, gt=0, le=24 * 366)
    seed: int = 0
    network: Network = Network()
    scheduler: Scheduler = Scheduler()
    power: Power = Power()
    cost: Cost = Cost()
    tenants: list[Tenant] = Field(default_factory=list)
    workloads: dict[str, Workload] = Field(default_factory=dict)
    jobs: list[Job] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    compare: list[Variant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> "FactorySpec":
        tenants = {t.name for t in self.tenants}
        seen: set[str] = set()
        for i, j in enumerate(self.jobs):
            if j.workload is not None and j.workload not in self.workloads:
                known = ", ".join(sorted(self.workloads)) or "none defined"
                raise ValueError(f"jobs.{i}.workload: unknown workload {j.workload!r} (workloads: {known})")
            if tenants and j.tenant not in tenants:
                raise ValueError(f"jobs.{i}.tenant: unknown tenant {j.tenant!r} (tenants: {', '.join(sorted(tenants))})")
            for name in job_names(j):
                if name in seen:
                    raise ValueError(f"jobs.{i}.name: job name {name!r} is used twice")
                seen.add(name)
        names = [v.name for v in self.compare]
        if len(set(names)) != len(names) or self.name in names:
            raise ValueError("compare: variant names must be unique and differ from the factory's name")
        return self

    def workload_of(self, job: Job) -> Workload:
        if job.workload is not None:
            return self.workloads[job.workload]
        return Workload(training=job.training, inference=job.inference)

    @property
    def window_s(self) -> float:
        return self.window_h * 3600.0


def job_names(job: Job) -> list[str]:
    return [job.name] if job.count == 1 else [f"{job.name}-{k + 1}" for k in range(job.count)]


def parse_factory(data: object, source: str = "factory") -> FactorySpec:
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of keys (fabric, jobs, ...), got {type(data).__name__}")
    try:
        return FactorySpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {_format_validation(exc)}") from None


def load_factory(path: str | Path) -> tuple[FactorySpec, dict]:
    """The spec and its raw mapping (variants are built by overlaying the raw mapping)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read factory file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    return parse_factory(data, str(path)), data


def variants(spec: FactorySpec, raw: dict[str, Any], source: str = "factory") -> list[tuple[str, FactorySpec]]:
    """The base factory and each `compare` variant (base sections replaced by the variant's)."""
    out = [(spec.name, spec)]
    for i, v in enumerate(spec.compare):
        data = {k: val for k, val in raw.items() if k != "compare"}
        extra = v.model_dump(exclude={"name"})
        for k in extra:
            if k not in FactorySpec.model_fields or k in ("name", "compare"):
                raise InputError(f"{source}: compare.{i}.{k}: not a section a variant can replace "
                                 f"(use: {', '.join(sorted(set(FactorySpec.model_fields) - {'name', 'compare'}))})")
        data.update(extra)
        data["name"] = v.name
        out.append((v.name, parse_factory(data, f"{source}: compare.{i} ({v.name})")))
    return out
