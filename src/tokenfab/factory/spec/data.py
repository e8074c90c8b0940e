"""Data: sources, pipelines on CPU pools, and the datasets they produce (or that are already stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from tokenfab.factory.spec.common import NAME, Diurnal, Place, Problems, Renamed
from tokenfab.factory.spec.tenancy import check_tenant
from tokenfab.strict import StrictModel

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class Stream(StrictModel):
    """Records arriving at a rate, with a daily swing."""

    records_per_s: float = Field(gt=0, description="Mean records per second.")
    record_bytes: float = Field(gt=0, description="Bytes per record.")
    diurnal: Diurnal = Field(Diurnal(), description="Daily swing of the rate.")
    start_h: float = Field(0.0, ge=0, description="When the stream starts, hours into the window.")
    until_h: float | None = Field(None, gt=0, description="When it stops (default: never).")

    @property
    def bytes_per_s(self) -> float:
        return self.records_per_s * self.record_bytes


class BatchDrop(Renamed):
    """Data delivered at once."""

    RENAMED = {"size_gb": "size_gbytes"}
    size_gbytes: float = Field(gt=0, description="Size of the delivery, GB (10^9 bytes).")
    at_h: float = Field(0.0, ge=0, description="When it arrives, hours into the window.")


class Source(StrictModel):
    """Data arriving at the factory: a stream (records at a rate) or a batch delivered at once."""

    name: str = Field(pattern=NAME, description="Source name, read by a pipeline.")
    tenant: str = Field("default", description="The tenant whose data it is.")
    stream: Stream | None = Field(None, description="A stream of records.")
    batch: BatchDrop | None = Field(None, description="A batch delivered at once.")

    @model_validator(mode="after")
    def _one(self) -> Source:
        if (self.stream is None) == (self.batch is None):
            raise ValueError("give exactly one of stream or batch")
        return self


class PipelineStage(StrictModel):
    """One step of a pipeline (every stage runs on the pipeline's nodes)."""

    name: str = Field(pattern=NAME, description="Stage name (reports).")
    kind: Literal["ingest", "transform", "curate"] = Field("transform", description="What the stage does.")
    mbytes_per_s_per_node: float = Field(gt=0, description="Input MB one CPU node processes per second.")
    keep: float = Field(1.0, gt=0, le=1, description="Output bytes per input byte (the rest is filtered out).")


class PipelineOutput(Renamed):
    """The dataset a pipeline writes, and when it cuts versions."""

    RENAMED = {"version_every_gb": "version_every_gbytes"}

    dataset: str = Field(pattern=NAME, description="Dataset name (training jobs and lifecycles read it).")
    tier: str = Field(description="Storage tier it is written to.")
    bytes_per_token: float = Field(4.0, gt=0, description="Dataset bytes per training token.")
    version_every_gbytes: float | None = Field(
        None, gt=0, description="Cut a new version after this much new data, GB (10^9 bytes)."
    )
    version_every_h: float | None = Field(None, gt=0, description="... or on a schedule.")


class Pipeline(Renamed):
    """A source processed by stages on CPU nodes into a versioned dataset."""

    RENAMED = {"buffer_gb": "buffer_gbytes"}

    name: str = Field(pattern=NAME, description="Pipeline name.")
    tenant: str = Field("default", description="The tenant it belongs to (it reads only its own sources).")
    source: str = Field(description="A `sources` name.")
    pool: str = Field(description="A `cpu_pools` name it runs on.")
    nodes: PositiveInt = Field(1, description="CPU nodes of the pool it uses.")
    buffer_gbytes: float = Field(
        100.0, ge=0, description="Queue in front of the pipeline, GB (10^9 bytes); beyond it data is dropped."
    )
    stages: list[PipelineStage] = Field(min_length=1, description="Its stages, in order.")
    output: PipelineOutput = Field(description="The dataset it writes.")

    @property
    def keep(self) -> float:
        k = 1.0
        for st in self.stages:
            k *= st.keep
        return k


class CpuPool(StrictModel):
    """CPU nodes the data pipelines run on."""

    name: str = Field(pattern=NAME, description="Pool name.")
    nodes: PositiveInt = Field(description="Nodes in the pool.")
    power_w: float = Field(600.0, ge=0, description="Per node (an estimate for a 2-socket server under load).")
    usd_per_hour: float = Field(1.0, ge=0, description="Per node, hardware and operations (an estimate; set your own).")
    place: Place = Field(Place(), description="Where the pool is (sovereignty checks).")


class Dataset(Renamed):
    """A dataset already in storage at the start of the window."""

    RENAMED = {"size_gb": "size_gbytes"}

    name: str = Field(pattern=NAME, description="Dataset name.")
    tenant: str = Field("default", description="The tenant whose data it is.")
    tier: str = Field(description="Storage tier it is on.")
    size_gbytes: float = Field(gt=0, description="Size, GB (10^9 bytes).")
    bytes_per_token: float = Field(4.0, gt=0, description="Dataset bytes per training token.")


def check(spec: FactorySpec, p: Problems, tiers: set[str]) -> dict[str, str]:
    """Sources, pools, pipelines and datasets: references, ownership, capacity. Returns dataset -> tenant."""
    pools = {c.name for c in spec.cpu_pools}
    p.unique([c.name for c in spec.cpu_pools], "cpu_pools", "CPU pool")
    for k, c in enumerate(spec.cpu_pools):
        if c.place.site is not None:
            p.one_of(c.place.site, spec.sites, f"cpu_pools.{k}.place.site", "site")
    sources = {}
    for k, s in enumerate(spec.sources):
        check_tenant(spec, p, s.tenant, f"sources.{k}.tenant")
        if s.name in sources:
            p.add(f"sources.{k}.name", f"source name {s.name!r} is used twice")
        sources.setdefault(s.name, s)
    datasets: dict[str, str] = {}  # name -> tenant
    used_nodes: dict[str, int] = {}
    p.unique([x.name for x in spec.pipelines], "pipelines", "pipeline")
    for k, pl in enumerate(spec.pipelines):
        f = f"pipelines.{k}"
        check_tenant(spec, p, pl.tenant, f"{f}.tenant")
        if p.one_of(pl.source, sources, f"{f}.source", "source") and sources[pl.source].tenant != pl.tenant:
            p.add(
                f"{f}.source",
                f"source {pl.source!r} belongs to tenant {sources[pl.source].tenant!r}, the pipeline "
                f"to {pl.tenant!r}: a tenant's pipeline reads only its own data",
            )
        if p.one_of(pl.pool, pools, f"{f}.pool", "CPU pool"):
            used_nodes[pl.pool] = used_nodes.get(pl.pool, 0) + pl.nodes
        if not tiers:
            p.add(f"{f}.output.tier", "the pipeline writes to a storage tier but the factory has no storage section")
        else:
            p.one_of(pl.output.tier, tiers, f"{f}.output.tier", "storage tier")
        if pl.output.dataset in datasets:
            p.add(f"{f}.output.dataset", f"dataset {pl.output.dataset!r} is produced twice")
        datasets.setdefault(pl.output.dataset, pl.tenant)
    for pool in spec.cpu_pools:
        if used_nodes.get(pool.name, 0) > pool.nodes:
            k = next(i for i, x in enumerate(spec.pipelines) if x.pool == pool.name)
            p.add(
                f"pipelines.{k}.nodes",
                f"pipelines on CPU pool {pool.name!r} need {used_nodes[pool.name]} nodes; it has {pool.nodes}",
            )
    full: set[str] = set()  # tiers reported over capacity (once each)
    for k, d in enumerate(spec.datasets):
        check_tenant(spec, p, d.tenant, f"datasets.{k}.tenant")
        if not tiers:
            p.add(f"datasets.{k}.tier", "a dataset lives in a storage tier but the factory has no storage section")
        elif p.one_of(d.tier, tiers, f"datasets.{k}.tier", "storage tier"):
            tier = spec.storage.tier(d.tier)
            on = sum(x.size_gbytes for x in spec.datasets if x.tier == d.tier)
            if on > tier.capacity_tbytes * 1000 and d.tier not in full:
                full.add(d.tier)
                p.add(
                    f"datasets.{k}.size_gbytes",
                    f"datasets on tier {d.tier!r} take {on:,.0f} GB; it holds {tier.capacity_tbytes * 1000:,.0f} GB",
                )
        if d.name in datasets:
            p.add(f"datasets.{k}.name", f"dataset {d.name!r} is defined twice")
        datasets.setdefault(d.name, d.tenant)
    return datasets
