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
    storage: {tiers: [{name: pfs, kind: parallel-fs, capacity_tbytes: 400, read_gbytes_per_s: 200, ...}]}
    sources: [{name: telemetry, tenant: acme, stream: {records_per_s: 4e5, record_bytes: 256}}]
    pipelines: [{name: etl, source: telemetry, pool: etl, nodes: 8, stages: [...], output: {...}}]
    datasets: [{name: docs, tenant: ent, tier: objects, size_gbytes: 500}]   # already in storage
    lifecycles: [{name: pdm, dataset: telemetry, train: {...}, evaluate: {...}, deploy: scorer}]
    services: [{name: scorer, workload: pdm-serve, arrivals: {rate_per_s: 300}, slo: {...}}]
    checkpoint: {interval_min: auto}                   # Young/Daly from the failure rate
    failures: {}                                       # Llama 3's rate: 419 in 54 days on 16K GPUs
    faults: [{at_h: 0, loss: 1e-4, jitter_us: 20}]    # impairments besides links/switches down

Unknown keys are refused so a typo never silently falls back to a default; references between
layers (a pipeline's tier, a service's model, a tenant's site) are checked by each layer's module
with the field named, and every problem, in structure or references, is reported in one error
(a section that fails its own checks is left out of the reference checks). Keys renamed to the
unit convention (`size_gb` -> `size_gbytes`, ...) still load under their old name, noted once
each (`Renamed` in common, `FactorySpec.notes`).

One module per layer: common (names, places, the problem collector), tenancy, compute (network,
scheduler, workloads, jobs), data (sources, pipelines, CPU pools, datasets), storage, lifecycle,
services, faults (faults, failures, checkpoints), economics (power, cost), factory (the whole file).
"""

from tokenfab.factory.spec.common import NAME, Diurnal, Place, Problems, Renamed, Site, deprecated_keys
from tokenfab.factory.spec.compute import Job, Network, Scheduler, Workload, job_names
from tokenfab.factory.spec.data import BatchDrop, CpuPool, Dataset, Pipeline, PipelineOutput, PipelineStage, Source, Stream
from tokenfab.factory.spec.economics import Cost, Power
from tokenfab.factory.spec.factory import FactorySpec, Variant, check_refs, load_factory, parse_factory, variants
from tokenfab.factory.spec.faults import Checkpointing, Failures, Fault
from tokenfab.factory.spec.lifecycle import Lifecycle, LifecycleEval, LifecycleTrain, Retrain
from tokenfab.factory.spec.services import Arrivals, Replicas, Service, Slo
from tokenfab.factory.spec.storage import TIER_USD_PER_TBYTE_MONTH, StorageSpec, Tier
from tokenfab.factory.spec.tenancy import Sovereignty, Tenant

__all__ = [
    "NAME",
    "TIER_USD_PER_TBYTE_MONTH",
    "Arrivals",
    "BatchDrop",
    "Checkpointing",
    "Cost",
    "CpuPool",
    "Dataset",
    "Diurnal",
    "FactorySpec",
    "Failures",
    "Fault",
    "Job",
    "Lifecycle",
    "LifecycleEval",
    "LifecycleTrain",
    "Network",
    "Pipeline",
    "PipelineOutput",
    "PipelineStage",
    "Place",
    "Power",
    "Problems",
    "Renamed",
    "Replicas",
    "Retrain",
    "Scheduler",
    "Service",
    "Site",
    "Slo",
    "Source",
    "Sovereignty",
    "StorageSpec",
    "Stream",
    "Tenant",
    "Tier",
    "Variant",
    "Workload",
    "check_refs",
    "deprecated_keys",
    "job_names",
    "load_factory",
    "parse_factory",
    "variants",
]
