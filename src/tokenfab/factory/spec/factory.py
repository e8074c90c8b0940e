"""The whole factory description: every layer's section, the checks across them, and variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tokenfab.errors import InputError
from tokenfab.factory.spec import compute, data, faults, lifecycle, services, storage, tenancy
from tokenfab.factory.spec.common import NAME, Problems, Site
from tokenfab.factory.spec.compute import Job, Network, Scheduler, Workload
from tokenfab.factory.spec.data import CpuPool, Dataset, Pipeline, Source
from tokenfab.factory.spec.economics import Cost, Power
from tokenfab.factory.spec.faults import Checkpointing, Failures, Fault
from tokenfab.factory.spec.lifecycle import Lifecycle
from tokenfab.factory.spec.services import Service
from tokenfab.factory.spec.storage import StorageSpec
from tokenfab.factory.spec.tenancy import Tenant
from tokenfab.fileio import load_yaml
from tokenfab.intent import validated
from tokenfab.strict import StrictModel
from tokenfab.workload.inference import InferenceSpec


class Variant(BaseModel):
    """A named change to the base description; its keys replace the base's top-level sections."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(description="Variant name (differs from the factory's and the other variants').")
    against: str | None = Field(
        None, description="Compare with this variant instead of the base (e.g. spraying against ECMP with the same spine down)."
    )


class FactorySpec(StrictModel):
    """A factory: its fabric, the window simulated, and every layer from data in to tokens out."""

    name: str = Field("factory", pattern=NAME, description="Factory name (reports, the base of `compare`).")
    description: str = Field("", description="What it is (reports).")
    fabric: str = Field(description="An intent YAML or a plan folder, relative to the factory file.")
    catalog: list[str] = Field(
        default_factory=list,
        description=(
            "Your own catalog files or folders (models, GPUs, servers, ...), relative to this file; "
            "an entry with a shipped name overrides it. See `tokenfab schema catalog`."
        ),
    )
    window_h: float = Field(24.0, gt=0, le=24 * 366, description="Hours simulated.")
    seed: int = Field(0, description="Random seed: arrivals, failures (same seed, same run).")
    tick_min: float = Field(10.0, gt=0, le=24 * 60, description="Step of data, services and autoscaling, minutes.")
    request_bin_s: float = Field(10.0, gt=0, le=3600, description="Request arrivals are counted per bin of this many seconds.")
    network: Network = Field(Network(), description="How communication time is computed.")
    scheduler: Scheduler = Field(Scheduler(), description="How queued jobs are placed.")
    power: Power = Field(Power(), description="How the facility draws power.")
    cost: Cost = Field(Cost(), description="How GPU-hours are priced.")
    sites: dict[str, Site] = Field(default_factory=dict, description="Named places (racks, pods, scalable units).")
    tenants: list[Tenant] = Field(default_factory=list, description="Tenants, with quotas and sovereignty.")
    cpu_pools: list[CpuPool] = Field(default_factory=list, description="CPU nodes the data pipelines run on.")
    storage: StorageSpec | None = Field(None, description="Storage tiers.")
    sources: list[Source] = Field(default_factory=list, description="Data arriving at the factory.")
    pipelines: list[Pipeline] = Field(default_factory=list, description="Sources processed into datasets.")
    datasets: list[Dataset] = Field(default_factory=list, description="Datasets already in storage.")
    workloads: dict[str, Workload] = Field(default_factory=dict, description="Named workload definitions.")
    jobs: list[Job] = Field(default_factory=list, description="What arrives when.")
    lifecycles: list[Lifecycle] = Field(default_factory=list, description="Train, evaluate, register, deploy, repeat.")
    services: list[Service] = Field(default_factory=list, description="Inference endpoints.")
    checkpoint: Checkpointing | None = Field(None, description="Training checkpoints (default: none).")
    failures: Failures | None = Field(None, description="Interruptions at a published rate (default: none).")
    faults: list[Fault] = Field(default_factory=list, description="Planned faults and impairments.")
    compare: list[Variant] = Field(default_factory=list, description="Variants run side by side in the same call.")

    def workload_of(self, job: Job) -> Workload:
        if job.workload is not None:
            return self.workloads[job.workload]
        return Workload(training=job.training, inference=job.inference)

    def service_workload(self, s: Service) -> InferenceSpec:
        return self.workloads[s.workload].inference if s.workload is not None else s.inference

    @property
    def window_s(self) -> float:
        return self.window_h * 3600.0

    @property
    def layered(self) -> bool:
        """Uses any layer beyond jobs on the fabric (data, storage, services, failures)."""
        return bool(
            self.storage
            or self.sources
            or self.pipelines
            or self.services
            or self.lifecycles
            or self.failures
            or self.checkpoint
            or self.datasets
        )


def check_refs(spec: FactorySpec, source: str = "factory") -> None:
    """References between layers, each section checking its own; one InputError lists them all."""
    p = Problems()
    names = [v.name for v in spec.compare]
    if len(set(names)) != len(names) or spec.name in names:
        p.add("compare", "variant names must be unique and differ from the factory's name")
    for i, v in enumerate(spec.compare):
        if v.against is not None:
            p.one_of(
                v.against, [spec.name] + [x.name for x in spec.compare if x.name != v.name], f"compare.{i}.against", "variant"
            )
    tenancy.check(spec, p)
    tiers = storage.check(spec, p)
    datasets = data.check(spec, p, tiers)
    compute.check(spec, p, datasets)
    svcs = services.check(spec, p)
    lifecycle.check(spec, p, datasets, svcs)
    faults.check(spec, p, tiers)
    p.raise_all(source)


def parse_factory(data: object, source: str = "factory") -> FactorySpec:
    from tokenfab.factory.bounds import check_job_counts, check_work

    try:
        check_job_counts(data)  # before expanding anything: counts that would flood memory are refused
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    spec = validated(FactorySpec, data, source, "fabric, jobs, ...")
    try:
        check_work(spec)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    check_refs(spec, source)
    return spec


def load_factory(path: str | Path) -> tuple[FactorySpec, dict]:
    """The spec and its raw mapping (variants are built by overlaying the raw mapping)."""
    from tokenfab.catalog import activate, active_layers
    from tokenfab.catalog.files import read_layers

    raw = load_yaml(path, "factory file")
    files = raw.get("catalog") if isinstance(raw, dict) else None
    if files and isinstance(files, list) and all(isinstance(f, str) for f in files):
        # the factory's own catalog files join the active catalog before its names are checked
        activate(active_layers() + read_layers(files, Path(path).parent, origin="factory"))
    return parse_factory(raw, str(path)), raw


def variants(spec: FactorySpec, raw: dict[str, Any], source: str = "factory") -> list[tuple[str, FactorySpec]]:
    """The base factory and each `compare` variant (base sections replaced by the variant's)."""
    out = [(spec.name, spec)]
    for i, v in enumerate(spec.compare):
        base = {k: val for k, val in raw.items() if k != "compare"}
        extra = v.model_dump(exclude={"name", "against"})
        for k in extra:
            if k not in FactorySpec.model_fields or k in ("name", "compare"):
                raise InputError(
                    f"{source}: compare.{i}.{k}: not a section a variant can replace "
                    f"(use: {', '.join(sorted(set(FactorySpec.model_fields) - {'name', 'compare'}))})"
                )
        base.update(extra)
        base["name"] = v.name
        out.append((v.name, parse_factory(base, f"{source}: compare.{i} ({v.name})")))
    return out
