"""Lifecycles: ingest -> train -> evaluate -> register -> deploy -> serve, and again on schedule or new data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from tokenfab.factory.spec.common import NAME, Problems, Renamed
from tokenfab.factory.spec.tenancy import check_tenant
from tokenfab.strict import StrictModel

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class LifecycleTrain(Renamed):
    """The training stage."""

    RENAMED = {"min_dataset_gb": "min_dataset_gbytes"}

    workload: str = Field(description="A training workload name.")
    steps: PositiveInt | None = Field(None, description="Steps per training run.")
    tokens: float | None = Field(None, gt=0, description="... or tokens per training run.")
    min_dataset_gbytes: float = Field(0.0, ge=0, description="Wait for this much data before training, GB (10^9 bytes).")
    max_epochs: float = Field(1.0, gt=0, description="Passes over the dataset a run may make.")
    checkpoint_min: float | Literal["auto", "off"] | None = Field(
        None, description="Minutes between checkpoints, auto or off; default: the factory's `checkpoint`."
    )

    @model_validator(mode="after")
    def _until(self) -> LifecycleTrain:
        if (self.steps is None) == (self.tokens is None):
            raise ValueError("give exactly one of steps or tokens")
        return self


class LifecycleEval(StrictModel):
    """The evaluation stage: an inference workload run over the evaluation set."""

    workload: str = Field(description="An inference workload name.")
    duration_h: float = Field(gt=0, description="Hours the evaluation runs.")


class Retrain(Renamed):
    """When to train again: on a schedule or on new data."""

    RENAMED = {"new_data_gb": "new_data_gbytes"}

    every_h: float | None = Field(None, gt=0, description="Hours from the previous training's start.")
    new_data_gbytes: float | None = Field(None, gt=0, description="When this much new data has arrived, GB (10^9 bytes).")

    @model_validator(mode="after")
    def _one(self) -> Retrain:
        if (self.every_h is None) == (self.new_data_gbytes is None):
            raise ValueError("give exactly one of every_h or new_data_gbytes")
        return self


class Lifecycle(StrictModel):
    """ingest -> train -> evaluate -> register -> deploy -> serve, and again on schedule or new data."""

    name: str = Field(pattern=NAME, description="Lifecycle name.")
    tenant: str = Field("default", description="The tenant it belongs to.")
    dataset: str = Field(description="The tenant's dataset it trains on.")
    train: LifecycleTrain = Field(description="The training stage.")
    evaluate: LifecycleEval | None = Field(None, description="The evaluation stage (optional).")
    deploy: str | None = Field(None, description="A service name: it serves the registered model.")
    retrain: Retrain | None = Field(None, description="When to train again (default: once).")
    start_h: float = Field(0.0, ge=0, description="Earliest first training, hours into the window.")
    priority: int = Field(0, description="Priority of its jobs (higher first).")


def check(spec: FactorySpec, p: Problems, datasets: dict[str, str], services: dict[str, str]) -> None:
    """Each lifecycle's tenant, dataset, workloads and the service it deploys to (`services`: name -> tenant)."""

    def workload(name: str, kind: str, field: str) -> bool:
        if not p.one_of(name, spec.workloads, field, "workload"):
            return False
        if spec.workloads[name].kind != kind:
            p.add(field, f"workload {name!r} is a {spec.workloads[name].kind} workload; a {kind} one is needed")
            return False
        return True

    deployed: set[str] = set()
    p.unique([lc.name for lc in spec.lifecycles], "lifecycles", "lifecycle")
    for k, lc in enumerate(spec.lifecycles):
        f = f"lifecycles.{k}"
        check_tenant(spec, p, lc.tenant, f"{f}.tenant")
        if p.one_of(lc.dataset, datasets, f"{f}.dataset", "dataset") and datasets[lc.dataset] != lc.tenant:
            p.add(f"{f}.dataset", f"dataset {lc.dataset!r} belongs to tenant {datasets[lc.dataset]!r}, not {lc.tenant!r}")
        trains = workload(lc.train.workload, "training", f"{f}.train.workload")
        if lc.evaluate:
            workload(lc.evaluate.workload, "inference", f"{f}.evaluate.workload")
        if lc.deploy is None or not p.one_of(lc.deploy, services, f"{f}.deploy", "service"):
            continue
        if services[lc.deploy] != lc.tenant:
            p.add(
                f"{f}.deploy", f"service {lc.deploy!r} belongs to tenant {services[lc.deploy]!r}, the lifecycle to {lc.tenant!r}"
            )
        svc = next(s for s in spec.services if s.name == lc.deploy)
        serves = svc.workload is None or (svc.workload in spec.workloads and spec.workloads[svc.workload].inference)
        if trains and serves:
            trained = spec.workloads[lc.train.workload].training.model
            served = spec.service_workload(svc).model
            if trained != served:
                p.add(f"{f}.deploy", f"the lifecycle trains {trained} but service {lc.deploy!r} serves {served}")
        if lc.deploy in deployed:
            p.add(f"{f}.deploy", f"service {lc.deploy!r} is deployed by two lifecycles")
        deployed.add(lc.deploy)
