"""The whole factory description: every layer's section, the checks across them, and variants."""

from __future__ import annotations

import warnings
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from tokenfab.errors import DeprecatedKeyWarning, InputError
from tokenfab.factory.spec import compute, data, faults, lifecycle, services, storage, tenancy
from tokenfab.factory.spec.common import NAME, Problems, Site, deprecated_keys, deprecation_note
from tokenfab.factory.spec.compute import Job, Network, Scheduler, Workload
from tokenfab.factory.spec.data import CpuPool, Dataset, Pipeline, Source
from tokenfab.factory.spec.economics import Cost, Power
from tokenfab.factory.spec.faults import Checkpointing, Failures, Fault
from tokenfab.factory.spec.lifecycle import Lifecycle
from tokenfab.factory.spec.services import Service
from tokenfab.factory.spec.storage import StorageSpec
from tokenfab.factory.spec.tenancy import Tenant
from tokenfab.fileio import load_yaml
from tokenfab.strict import StrictModel, validation_lines
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
    _notes: tuple[str, ...] = PrivateAttr(default=())
    _variants: tuple[tuple[str, FactorySpec], ...] = PrivateAttr(default=())  # built by parse_factory

    @property
    def notes(self) -> tuple[str, ...]:
        """What the user should know about the file itself (old key names read as the new ones)."""
        return self._notes

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


# the kinds of name each section defines: when the section fails its own checks, references to
# those names are not judged (the section's error is reported; "unknown" would be a second, wrong one)
DEFINES = {
    "name": ("variant",),
    "compare": ("variant",),
    "sites": ("site",),
    "tenants": ("tenant",),
    "storage": ("storage tier",),
    "cpu_pools": ("CPU pool",),
    "sources": ("source",),
    "pipelines": ("dataset",),
    "datasets": ("dataset",),
    "workloads": ("workload",),
    "services": ("service",),
}
# sections the work bounds (bounds.check_work) read: a failed one leaves them unchecked
BOUNDED = {"window_h", "request_bin_s", "tick_min", "services"}


def check_refs(
    spec: FactorySpec, source: str = "factory", failed: AbstractSet[str] = frozenset(), p: Problems | None = None
) -> None:
    """References between layers, each section checking its own; one InputError lists them all.
    `failed`: top-level sections that did not pass their own checks (left out of `spec`): what
    they define is not judged, nor are references from them. With `p`, problems are added to it
    and nothing is raised."""
    raise_here = p is None
    p = p if p is not None else Problems()
    p.unchecked = {what for section in failed for what in DEFINES.get(section, ())}
    names = [v.name for v in spec.compare]
    if "variant" not in p.unchecked and (len(set(names)) != len(names) or spec.name in names):
        p.add("compare", "variant names must be unique and differ from the factory's name")
    for i, v in enumerate(spec.compare):
        if v.against is not None:
            p.one_of(
                v.against, [spec.name] + [x.name for x in spec.compare if x.name != v.name], f"compare.{i}.against", "variant"
            )
    tenancy.check(spec, p)
    tiers = storage.check(spec, p)
    if "storage" in failed:
        tiers = {"(unchecked)"}  # a storage section exists: not "no storage section"
    datasets = data.check(spec, p, tiers)
    compute.check(spec, p, datasets)
    svcs = services.check(spec, p)
    lifecycle.check(spec, p, datasets, svcs)
    faults.check(spec, p, tiers)
    if raise_here:
        p.raise_all(source)


def _renamed_paths(data: dict) -> list[tuple[tuple, str, str]]:
    """Old key names in the file, the variants' sections included, with where they are."""
    found = deprecated_keys(FactorySpec, data)
    variants = data.get("compare")
    for i, v in enumerate(variants if isinstance(variants, list) else []):
        if isinstance(v, dict):  # a variant's sections are the factory's
            found += deprecated_keys(FactorySpec, {k: x for k, x in v.items() if k not in ("name", "compare")}, ("compare", i))
    return found


def _dotted(path: tuple) -> str:
    return ".".join(str(k) for k in path)


def _checked(data: dict, p: Problems) -> tuple[FactorySpec | None, set[str]]:
    """One description (the base or a variant) checked into `p`: each section's own structure,
    the work bounds, and the references of the sections that passed. Returns the spec built from
    the sections that passed (failed ones at their defaults; None when the file as a whole is
    wrong) and the failed sections."""
    from tokenfab.factory.bounds import check_job_counts, check_work

    try:
        check_job_counts(data)  # before expanding anything: counts that would flood memory are refused
    except InputError as exc:
        p.add_error(exc)
        return None, {"jobs"}
    renamed = _renamed_paths(data)
    failed: set[str] = set()
    try:
        spec = FactorySpec.model_validate(data)
    except ValidationError as exc:
        # errors name the key the user wrote (an old name, not the new one it was read as)
        old_at = {(*at, new): old for at, old, new in renamed}
        errors = exc.errors()
        for err in errors:
            loc = tuple(err["loc"])
            if loc in old_at:
                err["loc"] = (*loc[:-1], old_at[loc])
            failed.add(str(loc[0]) if loc else "")
        p.items += validation_lines(errors)
        try:  # the sections that passed, with defaults in place of the failed ones, for the references
            spec = FactorySpec.model_validate(
                {k: v for k, v in data.items() if k not in failed} | ({"fabric": "-"} if "fabric" in failed else {})
            )
        except ValidationError:  # the file as a whole is wrong (not a section): its own errors say how
            return None, failed
    if not failed & BOUNDED:
        try:
            check_work(spec)
        except InputError as exc:
            p.add_error(exc)
    first = len(p.items)
    check_refs(spec, failed=failed, p=p)
    for at, old, new in renamed:  # a reference problem at a renamed key names the key the user wrote
        wrote, read = f"{_dotted((*at, old))}: ", f"{_dotted((*at, new))}: "
        p.items[first:] = [wrote + x.removeprefix(read) if x.startswith(read) else x for x in p.items[first:]]
    return spec, failed


def _overlay(data: dict, v: Variant, i: int, p: Problems) -> dict | None:
    """The base description with the sections variant `v` (compare.{i}) replaces; None (and a
    problem each) when it names something that is not a section."""
    extra = v.model_dump(exclude={"name", "against"})
    sections = set(FactorySpec.model_fields) - {"name", "compare"}
    for k in extra:
        if k not in sections:
            p.add(f"compare.{i}.{k}", f"not a section a variant can replace (use: {', '.join(sorted(sections))})")
    if not set(extra) <= sections:
        return None
    return {k: val for k, val in data.items() if k != "compare"} | extra | {"name": v.name}


def parse_factory(data: object, source: str = "factory") -> FactorySpec:
    """`data` (the parsed file) as a FactorySpec, or one InputError listing every problem: each
    section's own (types, ranges, unknown keys) and, for the sections that passed them, every
    reference between sections, for the base and each `compare` variant (built here: `variants`).
    Old key names load as the new ones: each is noted once (a DeprecatedKeyWarning and `spec.notes`)."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of keys (fabric, jobs, ...), got {type(data).__name__}")
    notes = tuple(dict.fromkeys(deprecation_note(_dotted((*at, old)), new) for at, old, new in _renamed_paths(data)))
    for note in notes:  # once per key and process (the warnings registry)
        warnings.warn(note, DeprecatedKeyWarning, stacklevel=1)
    p = Problems()
    spec, failed = _checked(data, p)
    base = set(p.items)  # a variant keeps the base's other sections: their problems are told once
    built = []
    for i, v in enumerate(spec.compare if spec is not None and not failed & {"name", "compare"} else ()):
        merged = _overlay(data, v, i, p)
        if merged is None:
            continue
        q = Problems()
        vs, _ = _checked(merged, q)
        p.items += [f"compare.{i} ({v.name}): {item}" for item in q.items if item not in base]
        if vs is not None and not q.items:
            vs._notes = notes
            built.append((v.name, vs))
    p.raise_all(source)
    assert spec is not None  # no problem: every section passed
    spec._notes, spec._variants = notes, tuple(built)
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
    """The base factory and each `compare` variant (base sections replaced by the variant's), as
    `parse_factory` checked and built them (from `raw` when `spec` was made some other way)."""
    if len(spec._variants) != len(spec.compare):
        spec = parse_factory(raw, source)
    return [(spec.name, spec), *spec._variants]
