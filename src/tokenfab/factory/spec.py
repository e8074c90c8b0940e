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

The other layers of the factory (all optional; examples/factory-demo.yaml uses every one):

    sites: {eu-zone: {racks: [rack-7, rack-8]}}       # named places (racks, pods, scalable units)
    tenants: [{name: gov, quota_gpus: 64, sovereignty: {site: eu-zone, exclusive: true}}]
    cpu_pools: [{name: etl, nodes: 12}]                # CPU nodes the data pipelines run on
    storage: {tiers: [{name: pfs, kind: parallel-fs, capacity_tb: 400, read_gbytes_per_s: 200, ...}]}
    sources: [{name: telemetry, tenant: acme, stream: {records_per_s: 4e5, record_bytes: 256}}]
    pipelines: [{name: etl, source: telemetry, pool: etl, nodes: 8, stages: [...], output: {...}}]
    datasets: [{name: docs, tenant: ent, tier: objects, size_gb: 500}]   # already in storage
    lifecycles: [{name: pdm, dataset: telemetry, train: {...}, evaluate: {...}, deploy: scorer}]
    services: [{name: scorer, workload: pdm-serve, arrivals: {rate_per_s: 300}, slo: {...}}]
    checkpoint: {interval_min: auto}                   # Young/Daly from the failure rate
    failures: {}                                       # Llama 3's rate: 419 in 54 days on 16K GPUs
    faults: [{at_h: 0, loss: 1e-4, jitter_us: 20}]    # impairments besides links/switches down

Unknown keys are refused so a typo never silently falls back to a default; references between
layers (a pipeline's tier, a service's model, a tenant's site) are checked with the field named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from tokenfab.strict import StrictModel
from tokenfab.errors import InputError
from tokenfab.fileio import load_yaml
from tokenfab.factory.network import AnalyticalConfig
from tokenfab.intent import validated
from tokenfab.workload.inference import InferenceSpec
from tokenfab.workload.training import TrainingSpec



class Network(StrictModel):
    """How communication time is computed: the flow simulator (routing, ECMP collisions and
    failures show up) or the analytical alpha-beta model (ideal load balancing, much faster)."""

    model: Literal["simulator", "analytical"] = "simulator"
    routing: Literal["ecmp", "adaptive", "spray"] = "ecmp"  # simulator only
    qps: int = Field(1, ge=1, le=16)  # QPs per connection (NCCL_IB_QPS_PER_CONNECTION), simulator only
    analytical: AnalyticalConfig = AnalyticalConfig()


class Scheduler(StrictModel):
    policy: Literal["topology-aware", "first-fit"] = "topology-aware"
    backfill: bool = True  # a later job may start when the head of the queue does not fit


class Power(StrictModel):
    pue: float = Field(1.3, ge=1.0, le=3.0)
    gpu_idle_fraction: float = Field(0.10, ge=0, le=1)  # idle draw as a share of TDP (~70 W for H100)
    # server power beyond its GPUs (CPUs, memory, fans, NICs): from the catalog's max system power;
    # drawn at this share when idle, full when its GPUs are busy
    server_overhead_idle_fraction: float = Field(0.5, ge=0, le=1)


class Cost(StrictModel):
    gpu_hour_usd: float | None = Field(None, ge=0)  # set to price the GPUs as rented; default: TCO
    amortization_years: float = Field(4.0, gt=0)
    electricity_usd_per_kwh: float = Field(0.10, ge=0)
    # yearly operations (staff, support, facility space) as a share of capital cost
    opex_percent_of_capex: float = Field(8.0, ge=0)
    goodput: float = Field(0.90, gt=0, le=1)  # for the training-cost formula (Llama 3: >90% effective time)


NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class Place(StrictModel):
    """Where something may be: racks (fabric `rack` column), pods, scalable units, or a named site.
    Several keys narrow the place (a server must match each one given)."""

    racks: list[str] = Field(default_factory=list)
    pods: list[int] = Field(default_factory=list)
    sus: list[int] = Field(default_factory=list)
    site: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.racks or self.pods or self.sus or self.site)


class Site(StrictModel):
    racks: list[str] = Field(default_factory=list)
    pods: list[int] = Field(default_factory=list)
    sus: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> "Site":
        if not (self.racks or self.pods or self.sus):
            raise ValueError("a site names its racks, pods or sus")
        return self


class Sovereignty(Place):
    """The tenant's jobs, services, pipelines and data stay inside this place; `exclusive` keeps
    every other tenant out of it."""

    exclusive: bool = False

    @model_validator(mode="after")
    def _some(self) -> "Sovereignty":
        if not self.given:
            raise ValueError("sovereignty names racks, pods, sus or a site")
        return self


class Tenant(StrictModel):
    name: str = Field(pattern=NAME)
    quota_gpus: PositiveInt | None = None  # most GPUs the tenant holds at once
    sovereignty: Sovereignty | None = None


class Workload(StrictModel):
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


class Job(StrictModel):
    name: str = Field(pattern=NAME)
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
    dataset: str | None = None  # training reads it (storage bandwidth; starves when it runs dry)
    max_epochs: float = Field(1.0, gt=0)  # passes over the dataset the job may make
    checkpoint_min: float | Literal["auto", "off"] | None = None  # default: the factory's `checkpoint`

    @model_validator(mode="after")
    def _one(self) -> "Job":
        given = [k for k in ("workload", "training", "inference") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of workload (a name from workloads), training or inference")
        if self.inference is not None and (self.steps or self.tokens):
            raise ValueError("steps and tokens apply to training jobs; an inference service runs for duration_h")
        return self


class Fault(StrictModel):
    """Something going wrong from `at_h` until `up_h` (the end of the window if omitted). One of:

    down: a device or link (names as on the command line: `spine-1`, `leaf-r1-1:Ethernet256`,
        `leaf-r1-1--spine-1`); traffic reroutes, GPUs behind a dead NIC link are unreachable.
    impairment of a network (`network`: backend (default), frontend or storage): packet `loss`
        probability per link, `jitter_us` (mean extra delay per hop), `latency_us`, `degrade`
        (capacity kept); on the backend optionally only on the links of `where` (a device or link).
    storage: a tier slowed to `slowdown` of its read and write bandwidth.
    """

    at_h: float = Field(ge=0)
    up_h: float | None = None
    down: str | None = None
    network: Literal["backend", "frontend", "storage"] = "backend"
    loss: float = Field(0.0, ge=0, lt=0.5)
    jitter_us: float = Field(0.0, ge=0)
    latency_us: float = Field(0.0, ge=0)
    degrade: float = Field(1.0, gt=0, le=1)
    where: str | None = None
    storage: str | None = None
    slowdown: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> "Fault":
        if self.up_h is not None and self.up_h <= self.at_h:
            raise ValueError(f"up_h ({self.up_h}) must be after at_h ({self.at_h})")
        kinds = [k for k, on in (("down", self.down is not None), ("impairment", self.impairs),
                                 ("storage", self.storage is not None)) if on]
        if len(kinds) != 1:
            raise ValueError("a fault is one of: down (a device or link), an impairment (loss, jitter_us, latency_us, "
                             "degrade) or a storage slowdown (storage + slowdown)")
        if self.storage is not None and self.slowdown >= 1.0:
            raise ValueError("a storage fault needs slowdown < 1 (the share of bandwidth kept)")
        if self.where is not None and self.network != "backend":
            raise ValueError("where (a device or link) applies to the backend network only")
        return self

    @property
    def impairs(self) -> bool:
        return bool(self.loss or self.jitter_us or self.latency_us or self.degrade < 1.0)

    @property
    def kind(self) -> str:
        return "down" if self.down is not None else ("storage" if self.storage is not None else "impairment")


# -- data, storage, pipelines --------------------------------------------------------------------
class Diurnal(StrictModel):
    """rate(t) = mean x (1 + amplitude x cos(2 pi (hour - peak_h) / 24)); the daily mean stays `mean`."""

    amplitude: float = Field(0.0, ge=0, lt=1)
    peak_h: float = Field(14.0, ge=0, lt=24)


class Stream(StrictModel):
    records_per_s: float = Field(gt=0)
    record_bytes: float = Field(gt=0)
    diurnal: Diurnal = Diurnal()
    start_h: float = Field(0.0, ge=0)
    until_h: float | None = Field(None, gt=0)

    @property
    def bytes_per_s(self) -> float:
        return self.records_per_s * self.record_bytes


class BatchDrop(StrictModel):
    size_gb: float = Field(gt=0)
    at_h: float = Field(0.0, ge=0)


class Source(StrictModel):
    """Data arriving at the factory: a stream (records at a rate) or a batch delivered at once."""

    name: str = Field(pattern=NAME)
    tenant: str = "default"
    stream: Stream | None = None
    batch: BatchDrop | None = None

    @model_validator(mode="after")
    def _one(self) -> "Source":
        if (self.stream is None) == (self.batch is None):
            raise ValueError("give exactly one of stream or batch")
        return self


class PipelineStage(StrictModel):
    name: str = Field(pattern=NAME)
    kind: Literal["ingest", "transform", "curate"] = "transform"
    mbytes_per_s_per_node: float = Field(gt=0)  # input bytes one CPU node processes per second
    keep: float = Field(1.0, gt=0, le=1)  # output bytes per input byte (the rest is filtered out)


class PipelineOutput(StrictModel):
    dataset: str = Field(pattern=NAME)
    tier: str
    bytes_per_token: float = Field(4.0, gt=0)  # dataset bytes per training token
    version_every_gb: float | None = Field(None, gt=0)  # cut a new version after this much new data
    version_every_h: float | None = Field(None, gt=0)  # ... or on a schedule


class Pipeline(StrictModel):
    name: str = Field(pattern=NAME)
    tenant: str = "default"
    source: str
    pool: str  # a cpu_pools name
    nodes: PositiveInt = 1
    buffer_gb: float = Field(100.0, ge=0)  # queue in front of the pipeline; beyond it data is dropped
    stages: list[PipelineStage] = Field(min_length=1)
    output: PipelineOutput

    @property
    def keep(self) -> float:
        k = 1.0
        for st in self.stages:
            k *= st.keep
        return k


class CpuPool(StrictModel):
    name: str = Field(pattern=NAME)
    nodes: PositiveInt
    power_w: float = Field(600.0, ge=0)  # per node (an estimate for a 2-socket server under load)
    usd_per_hour: float = Field(1.0, ge=0)  # per node (an estimate; set your own)
    place: Place = Place()


TIER_USD_PER_TB_MONTH = {"parallel-fs": 140.0, "object-store": 23.0}  # ~ public-cloud list prices


class Tier(StrictModel):
    name: str = Field(pattern=NAME)
    kind: Literal["parallel-fs", "object-store"] = "parallel-fs"
    capacity_tb: float = Field(gt=0)
    read_gbytes_per_s: float = Field(gt=0)
    write_gbytes_per_s: float = Field(gt=0)
    usd_per_tb_month: float | None = Field(None, ge=0)  # default by kind
    place: Place = Place()

    @property
    def price_tb_month(self) -> float:
        return TIER_USD_PER_TB_MONTH[self.kind] if self.usd_per_tb_month is None else self.usd_per_tb_month


class StorageSpec(StrictModel):
    tiers: list[Tier] = Field(min_length=1)
    checkpoints: str | None = None  # tier for checkpoints (default: the first parallel-fs)
    registry: str | None = None  # tier for registered models (default: the first object store)
    # the storage fabric: the plan's storage network (`storage:` in the intent), else its frontend
    # network (converged); `fabric_gbps` overrides the planned figure (what-if)
    fabric_gbps: float | None = Field(None, gt=0)

    def tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)

    @property
    def checkpoint_tier(self) -> str:
        if self.checkpoints:
            return self.checkpoints
        return next((t.name for t in self.tiers if t.kind == "parallel-fs"), self.tiers[0].name)

    @property
    def registry_tier(self) -> str:
        if self.registry:
            return self.registry
        return next((t.name for t in self.tiers if t.kind == "object-store"), self.tiers[0].name)


class Dataset(StrictModel):
    """A dataset already in storage at the start of the window."""

    name: str = Field(pattern=NAME)
    tenant: str = "default"
    tier: str
    size_gb: float = Field(gt=0)
    bytes_per_token: float = Field(4.0, gt=0)


# -- lifecycle, services ------------------------------------------------------------------------
class LifecycleTrain(StrictModel):
    workload: str
    steps: PositiveInt | None = None
    tokens: float | None = Field(None, gt=0)
    min_dataset_gb: float = Field(0.0, ge=0)  # wait for this much data before training
    max_epochs: float = Field(1.0, gt=0)
    checkpoint_min: float | Literal["auto", "off"] | None = None

    @model_validator(mode="after")
    def _until(self) -> "LifecycleTrain":
        if (self.steps is None) == (self.tokens is None):
            raise ValueError("give exactly one of steps or tokens")
        return self


class LifecycleEval(StrictModel):
    workload: str  # an inference workload run over the evaluation set
    duration_h: float = Field(gt=0)


class Retrain(StrictModel):
    every_h: float | None = Field(None, gt=0)  # on a schedule (from the previous training's start)
    new_data_gb: float | None = Field(None, gt=0)  # when this much new data has arrived

    @model_validator(mode="after")
    def _one(self) -> "Retrain":
        if (self.every_h is None) == (self.new_data_gb is None):
            raise ValueError("give exactly one of every_h or new_data_gb")
        return self


class Lifecycle(StrictModel):
    """ingest -> train -> evaluate -> register -> deploy -> serve, and again on schedule or new data."""

    name: str = Field(pattern=NAME)
    tenant: str = "default"
    dataset: str
    train: LifecycleTrain
    evaluate: LifecycleEval | None = None
    deploy: str | None = None  # a service name: it serves the registered model
    retrain: Retrain | None = None
    start_h: float = Field(0.0, ge=0)
    priority: int = 0


class Arrivals(StrictModel):
    rate_per_s: float = Field(gt=0)  # mean requests per second (Poisson)
    diurnal: Diurnal = Diurnal()


class Slo(StrictModel):
    ttft_s: float = Field(1.0, gt=0)
    tpot_s: float = Field(0.1, gt=0)


class Replicas(StrictModel):
    min: int = Field(1, ge=0)
    max: PositiveInt = 1
    target_load: float = Field(0.7, gt=0, le=1)  # scale so replicas run at this share of capacity

    @model_validator(mode="after")
    def _order(self) -> "Replicas":
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class Service(StrictModel):
    """An inference endpoint: one replica is the inference workload; requests arrive (Poisson with
    a daily swing), queue, are served by continuous batching and judged against the SLO."""

    name: str = Field(pattern=NAME)
    tenant: str = "default"
    application: str = ""  # what it is for (reports)
    workload: str | None = None  # an inference workload
    inference: InferenceSpec | None = None  # or inline
    arrivals: Arrivals
    slo: Slo = Slo()
    replicas: Replicas = Replicas()
    start_h: float = Field(0.0, ge=0)
    until_h: float | None = Field(None, gt=0)
    priority: int = 10  # services are placed before batch jobs
    timeout_s: float = Field(60.0, gt=0)  # a request waiting longer is abandoned
    request_bytes_per_token: float = Field(4.0, gt=0)  # over the frontend network
    response_bytes_per_token: float = Field(4.0, gt=0)

    @model_validator(mode="after")
    def _one(self) -> "Service":
        if (self.workload is None) == (self.inference is None):
            raise ValueError("give exactly one of workload (an inference workload name) or inference")
        return self


class Checkpointing(StrictModel):
    # minutes of work between checkpoints; auto: Young/Daly sqrt(2 x write time x MTBF of the job)
    interval_min: float | Literal["auto", "off"] = "auto"
    bytes_per_param: float = Field(14.0, gt=0)  # BF16 weights + FP32 master weights + Adam m and v
    keep: PositiveInt = 2  # checkpoints kept per job (storage capacity)


class Failures(StrictModel):
    """Unexpected interruptions at a published rate: Llama 3 saw 419 in 54 days on 16,384 GPUs
    (arXiv 2407.21783), one per ~50,700 GPU-hours; 8.4% were switches and cables."""

    enabled: bool = True
    interruptions: float = Field(419, ge=0)
    days: float = Field(54, gt=0)
    gpus: PositiveInt = 16384
    scale: float = Field(1.0, ge=0)  # multiply the rate (what-if)
    network_share: float = Field(0.084, ge=0, le=1)  # of them, a fabric link going down
    restart_min: float = Field(10.0, ge=0)  # detect, reschedule, initialise (before the restore)
    repair_h: float = Field(4.0, ge=0)  # a failed server is out of service this long
    link_repair_h: float = Field(2.0, ge=0)

    @property
    def per_gpu_s(self) -> float:
        return self.interruptions * self.scale / (self.days * 86400.0 * self.gpus)


class Variant(BaseModel):
    """A named change to the base description; its keys replace the base's top-level sections."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class FactorySpec(StrictModel):
    name: str = Field("factory", pattern=NAME)
    description: str = ""
    fabric: str  # intent YAML or plan folder, relative to the factory file
    window_h: float = Field(24.0, gt=0, le=24 * 366)
    seed: int = 0
    tick_min: float = Field(10.0, gt=0, le=24 * 60)  # data, services and autoscaling step
    request_bin_s: float = Field(10.0, gt=0, le=3600)  # request arrivals are counted per bin
    network: Network = Network()
    scheduler: Scheduler = Scheduler()
    power: Power = Power()
    cost: Cost = Cost()
    sites: dict[str, Site] = Field(default_factory=dict)
    tenants: list[Tenant] = Field(default_factory=list)
    cpu_pools: list[CpuPool] = Field(default_factory=list)
    storage: StorageSpec | None = None
    sources: list[Source] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    datasets: list[Dataset] = Field(default_factory=list)
    workloads: dict[str, Workload] = Field(default_factory=dict)
    jobs: list[Job] = Field(default_factory=list)
    lifecycles: list[Lifecycle] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    checkpoint: Checkpointing | None = None
    failures: Failures | None = None
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

    def service_workload(self, s: Service) -> InferenceSpec:
        return self.workloads[s.workload].inference if s.workload is not None else s.inference

    @property
    def window_s(self) -> float:
        return self.window_h * 3600.0

    @property
    def layered(self) -> bool:
        """Uses any layer beyond jobs on the fabric (data, storage, services, failures)."""
        return bool(self.storage or self.sources or self.pipelines or self.services or self.lifecycles
                    or self.failures or self.checkpoint or self.datasets)


def check_refs(spec: FactorySpec) -> None:
    """References between layers, each error naming the field and what exists."""

    def one_of(value, known, field: str, what: str) -> None:
        if value not in known:
            raise InputError(f"unknown {what} {value!r} ({what}s: {', '.join(sorted(known)) or 'none defined'})", field)

    tenants = {t.name for t in spec.tenants}

    def tenant(value: str, field: str) -> None:
        if tenants:
            one_of(value, tenants, field, "tenant")

    for k, t in enumerate(spec.tenants):
        if t.sovereignty and t.sovereignty.site is not None:
            one_of(t.sovereignty.site, spec.sites, f"tenants.{k}.sovereignty.site", "site")
    if len(tenants) != len(spec.tenants):
        raise InputError("tenant names must be unique", "tenants")
    pools = {p.name for p in spec.cpu_pools}
    for k, p in enumerate(spec.cpu_pools):
        if p.place.site is not None:
            one_of(p.place.site, spec.sites, f"cpu_pools.{k}.place.site", "site")
    tiers = {t.name for t in spec.storage.tiers} if spec.storage else set()
    if spec.storage:
        if len(tiers) != len(spec.storage.tiers):
            raise InputError("tier names must be unique", "storage.tiers")
        for k, t in enumerate(spec.storage.tiers):
            if t.place.site is not None:
                one_of(t.place.site, spec.sites, f"storage.tiers.{k}.place.site", "site")
        for key in ("checkpoints", "registry"):
            if getattr(spec.storage, key) is not None:
                one_of(getattr(spec.storage, key), tiers, f"storage.{key}", "storage tier")
    sources = {}
    for k, s in enumerate(spec.sources):
        tenant(s.tenant, f"sources.{k}.tenant")
        if s.name in sources:
            raise InputError(f"source name {s.name!r} is used twice", f"sources.{k}.name")
        sources[s.name] = s
    datasets: dict[str, str] = {}  # name -> tenant
    used_nodes: dict[str, int] = {}
    for k, p in enumerate(spec.pipelines):
        f = f"pipelines.{k}"
        tenant(p.tenant, f"{f}.tenant")
        one_of(p.source, sources, f"{f}.source", "source")
        if sources[p.source].tenant != p.tenant:
            raise InputError(f"source {p.source!r} belongs to tenant {sources[p.source].tenant!r}, the pipeline to "
                             f"{p.tenant!r}: a tenant's pipeline reads only its own data", f"{f}.source")
        one_of(p.pool, pools, f"{f}.pool", "CPU pool")
        used_nodes[p.pool] = used_nodes.get(p.pool, 0) + p.nodes
        if not tiers:
            raise InputError("the pipeline writes to a storage tier but the factory has no storage section",
                             f"{f}.output.tier")
        one_of(p.output.tier, tiers, f"{f}.output.tier", "storage tier")
        if p.output.dataset in datasets:
            raise InputError(f"dataset {p.output.dataset!r} is produced twice", f"{f}.output.dataset")
        datasets[p.output.dataset] = p.tenant
    for pool in spec.cpu_pools:
        if used_nodes.get(pool.name, 0) > pool.nodes:
            k = next(i for i, p in enumerate(spec.pipelines) if p.pool == pool.name)
            raise InputError(f"pipelines on CPU pool {pool.name!r} need {used_nodes[pool.name]} nodes; it has "
                             f"{pool.nodes}", f"pipelines.{k}.nodes")
    for k, d in enumerate(spec.datasets):
        tenant(d.tenant, f"datasets.{k}.tenant")
        if not tiers:
            raise InputError("a dataset lives in a storage tier but the factory has no storage section", f"datasets.{k}.tier")
        one_of(d.tier, tiers, f"datasets.{k}.tier", "storage tier")
        if d.name in datasets:
            raise InputError(f"dataset {d.name!r} is defined twice", f"datasets.{k}.name")
        datasets[d.name] = d.tenant
    for k, d in enumerate(spec.datasets):
        tier = spec.storage.tier(d.tier)
        on = sum(x.size_gb for x in spec.datasets if x.tier == d.tier)
        if on > tier.capacity_tb * 1000:
            raise InputError(f"datasets on tier {d.tier!r} take {on:,.0f} GB; it holds {tier.capacity_tb * 1000:,.0f} GB",
                             f"datasets.{k}.size_gb")

    def workload(name: str, kind: str, field: str) -> None:
        one_of(name, spec.workloads, field, "workload")
        if spec.workloads[name].kind != kind:
            raise InputError(f"workload {name!r} is a {spec.workloads[name].kind} workload; a {kind} one is needed", field)

    def own_dataset(name: str, owner: str, field: str) -> None:
        one_of(name, datasets, field, "dataset")
        if datasets[name] != owner:
            raise InputError(f"dataset {name!r} belongs to tenant {datasets[name]!r}, not {owner!r}", field)

    for i, j in enumerate(spec.jobs):
        if j.dataset is not None:
            own_dataset(j.dataset, j.tenant, f"jobs.{i}.dataset")
            if spec.workload_of(j).kind != "training":
                raise InputError("only training jobs read a dataset", f"jobs.{i}.dataset")
    services = {}
    for k, s in enumerate(spec.services):
        f = f"services.{k}"
        tenant(s.tenant, f"{f}.tenant")
        if s.workload is not None:
            workload(s.workload, "inference", f"{f}.workload")
        if s.name in services:
            raise InputError(f"service name {s.name!r} is used twice", f"{f}.name")
        services[s.name] = s
    deployed: set[str] = set()
    names: set[str] = set()
    for k, lc in enumerate(spec.lifecycles):
        f = f"lifecycles.{k}"
        if lc.name in names:
            raise InputError(f"lifecycle name {lc.name!r} is used twice", f"{f}.name")
        names.add(lc.name)
        tenant(lc.tenant, f"{f}.tenant")
        own_dataset(lc.dataset, lc.tenant, f"{f}.dataset")
        workload(lc.train.workload, "training", f"{f}.train.workload")
        if lc.evaluate:
            workload(lc.evaluate.workload, "inference", f"{f}.evaluate.workload")
        if lc.deploy is not None:
            one_of(lc.deploy, services, f"{f}.deploy", "service")
            svc = services[lc.deploy]
            if svc.tenant != lc.tenant:
                raise InputError(f"service {lc.deploy!r} belongs to tenant {svc.tenant!r}, the lifecycle to {lc.tenant!r}",
                                 f"{f}.deploy")
            trained = spec.workloads[lc.train.workload].training.model
            served = spec.service_workload(svc).model
            if trained != served:
                raise InputError(f"the lifecycle trains {trained} but service {lc.deploy!r} serves {served}", f"{f}.deploy")
            if lc.deploy in deployed:
                raise InputError(f"service {lc.deploy!r} is deployed by two lifecycles", f"{f}.deploy")
            deployed.add(lc.deploy)
    for i, ft in enumerate(spec.faults):
        if ft.storage is not None:
            if not tiers:
                raise InputError("a storage fault needs a storage section", f"faults.{i}.storage")
            one_of(ft.storage, tiers, f"faults.{i}.storage", "storage tier")
    wants_ckpt = spec.checkpoint is not None and spec.checkpoint.interval_min != "off"
    if wants_ckpt and not tiers:
        raise InputError("checkpoints are written to a storage tier; add a storage section", "checkpoint")


def job_names(job: Job) -> list[str]:
    return [job.name] if job.count == 1 else [f"{job.name}-{k + 1}" for k in range(job.count)]


def parse_factory(data: object, source: str = "factory") -> FactorySpec:
    from tokenfab.factory.bounds import check_job_counts, check_work

    try:
        check_job_counts(data)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    spec = validated(FactorySpec, data, source, "fabric, jobs, ...")
    try:
        check_work(spec)
        check_refs(spec)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return spec


def load_factory(path: str | Path) -> tuple[FactorySpec, dict]:
    """The spec and its raw mapping (variants are built by overlaying the raw mapping)."""
    data = load_yaml(path, "factory file")
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
