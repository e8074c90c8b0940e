"""Wiring the layers onto the engine: storage, data, tenancy (sovereignty and quotas over every
request a tenant will make), checkpoints, services with their one-replica probe, lifecycles,
failures and the frontend network."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tokenfab.errors import InputError
from tokenfab.factory.data import DataLayer
from tokenfab.factory.failures import FailureHandler
from tokenfab.factory.jobs import units_of
from tokenfab.factory.lifecycle import Orchestrator
from tokenfab.factory.scheduler import Inventory, place
from tokenfab.factory.services import Frontend, ServiceRun
from tokenfab.factory.spec import Failures, Workload
from tokenfab.factory.storage import StorageLayer
from tokenfab.factory.tenancy import build_tenancy
from tokenfab.workload.inference import InferenceResult, InferenceSpec, inference_estimate, replica_units

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine


def setup(e: Engine) -> None:
    spec, cl = e.spec, e.cluster
    G = cl.gpus_per_server
    e.layered = spec.layered or any(f.kind != "down" for f in spec.faults)
    e.storage = StorageLayer(spec, cl) if spec.storage else None
    e.data = DataLayer(spec, e.storage) if (spec.sources or spec.datasets) else None
    e.failure_spec = spec.failures or Failures()
    # every request a tenant will make, for the sovereignty and quota checks
    requests: dict[str, list[tuple[str, list[int]]]] = {}
    for i, j in enumerate(spec.jobs):
        w = spec.workload_of(j)
        requests.setdefault(j.tenant, []).append((f"jobs.{i}", units_of(w, G, f"jobs.{i}.{w.kind}")))
    for k, s in enumerate(spec.services):
        wf = f"workloads.{s.workload}.inference" if s.workload else f"services.{k}.inference"
        requests.setdefault(s.tenant, []).append((f"services.{k}", units_of(Workload(inference=spec.service_workload(s)), G, wf)))
    for k, lc in enumerate(spec.lifecycles):
        requests.setdefault(lc.tenant, []).append(
            (f"lifecycles.{k}.train", units_of(spec.workloads[lc.train.workload], G, f"workloads.{lc.train.workload}.training"))
        )
        if lc.evaluate:
            requests.setdefault(lc.tenant, []).append(
                (
                    f"lifecycles.{k}.evaluate",
                    units_of(spec.workloads[lc.evaluate.workload], G, f"workloads.{lc.evaluate.workload}.inference"),
                )
            )
    e.tenancy = build_tenancy(spec, cl, requests)
    e.inv.allowed.update(e.tenancy.allowed)
    for j in e.jobs:
        e.job_storage_setup(j)
    e.services = []
    for k, s in enumerate(spec.services):
        infer = spec.service_workload(s)
        f = f"workloads.{s.workload}.inference" if s.workload else f"services.{k}.inference"
        sr = ServiceRun(s, k, infer, f, np.random.default_rng([spec.seed, 2, k]))
        sr.deployed = not any(lc.deploy == s.name for lc in spec.lifecycles)
        sr.probe = _probe(e, infer, s.tenant, f)
        e.services.append(sr)
    e.svc_by_name = {s.name: s for s in e.services}
    e.orchestrator = Orchestrator(e)
    e.lifecycles = e.orchestrator.lifecycles
    e.failures = FailureHandler(e, e.failure_spec)
    e.handlers.update({"fail": e.failures.on_fail, "repair": e.failures.on_repair, "register": e.orchestrator.on_registered})
    e.frontend = _frontend(e)


def _probe(e: Engine, infer: InferenceSpec, tenant: str, wf: str) -> InferenceResult:
    """One replica alone on the empty fabric, inside the tenant's servers (autoscaling's guess)."""
    inv = Inventory(e.cluster)
    inv.allowed.update(e.tenancy.allowed)
    got = place(inv, e.policy, replica_units(infer), tenant)
    if got is None:
        raise InputError(f"one replica ({infer.gpus} GPUs) does not fit tenant {tenant!r}'s servers", wf)
    return inference_estimate(infer, e.cluster.gpu, e.comm, got, e.cluster.gpus_per_server, wf)


def _frontend(e: Engine) -> Frontend:
    """The frontend network requests and responses cross: per-server NICs, bisection, round trip."""
    nets = e.fabric.design.get("networks") or {}
    fe = Frontend()
    side = nets.get("frontend")
    it = e.fabric.intent.frontend
    if side and it:
        fe.per_server_bytes_per_s = it.nics_per_server * it.speed_gbps * 1e9 / 8
        fe.capacity_bytes_per_s = side["bisection_gbps"] * 1e9 / 8
        hops = 3 if side["spines"] else 1
        fe.rtt_s = 2 * (2e-6 + hops * e.cluster.switch_latency_s)
    fe.base_rtt_s = fe.rtt_s
    return fe
