"""Services: inference endpoints with arrivals, SLOs and autoscaled replicas."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, PositiveInt, model_validator

from tokenfab.factory.spec.common import NAME, Diurnal, Problems
from tokenfab.factory.spec.compute import check_model
from tokenfab.factory.spec.tenancy import check_tenant
from tokenfab.strict import StrictModel
from tokenfab.workload.inference import InferenceSpec

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class Arrivals(StrictModel):
    """Requests arriving (Poisson) with a daily swing."""

    rate_per_s: float = Field(gt=0, description="Mean requests per second.")
    diurnal: Diurnal = Field(Diurnal(), description="Daily swing of the rate.")


class Slo(StrictModel):
    """What a request must meet to count as served well."""

    ttft_s: float = Field(1.0, gt=0, description="Time to first token, seconds.")
    tpot_s: float = Field(0.1, gt=0, description="Time per output token, seconds.")


class Replicas(StrictModel):
    """How many replicas the service runs, scaled to its load."""

    min: int = Field(1, ge=0, description="Fewest replicas.")
    max: PositiveInt = Field(1, description="Most replicas.")
    target_load: float = Field(0.7, gt=0, le=1, description="Scale so replicas run at this share of their capacity.")

    @model_validator(mode="after")
    def _order(self) -> Replicas:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class Service(StrictModel):
    """An inference endpoint: one replica is the inference workload; requests arrive (Poisson with
    a daily swing), queue, are served by continuous batching and judged against the SLO."""

    name: str = Field(pattern=NAME, description="Service name (a lifecycle may deploy to it).")
    tenant: str = Field("default", description="The tenant it belongs to.")
    application: str = Field("", description="What it is for (reports).")
    workload: str | None = Field(None, description="An inference workload name (or give inference inline).")
    inference: InferenceSpec | None = Field(None, description="An inline inference workload.")
    arrivals: Arrivals = Field(description="Request arrivals.")
    slo: Slo = Field(Slo(), description="The service-level objective.")
    replicas: Replicas = Field(Replicas(), description="Replica count and autoscaling target.")
    start_h: float = Field(0.0, ge=0, description="When the service starts, hours into the window.")
    until_h: float | None = Field(None, gt=0, description="When it stops (default: the end of the window).")
    priority: int = Field(10, description="Services are placed before batch jobs (priority 0).")
    timeout_s: float = Field(60.0, gt=0, description="A request waiting longer is abandoned.")
    request_bytes_per_token: float = Field(4.0, gt=0, description="Request bytes per input token, over the frontend.")
    response_bytes_per_token: float = Field(4.0, gt=0, description="Response bytes per output token.")

    @model_validator(mode="after")
    def _one(self) -> Service:
        if (self.workload is None) == (self.inference is None):
            raise ValueError("give exactly one of workload (an inference workload name) or inference")
        return self


def check(spec: FactorySpec, p: Problems) -> dict[str, str]:
    """Each service's tenant, workload and unique name. Returns service -> tenant."""
    services: dict[str, str] = {}
    for k, s in enumerate(spec.services):
        f = f"services.{k}"
        check_tenant(spec, p, s.tenant, f"{f}.tenant")
        check_model(p, s, f)
        if s.workload is not None and p.one_of(s.workload, spec.workloads, f"{f}.workload", "workload"):
            if spec.workloads[s.workload].kind != "inference":
                p.add(
                    f"{f}.workload",
                    f"workload {s.workload!r} is a {spec.workloads[s.workload].kind} workload; an inference one is needed",
                )
        if s.name in services:
            p.add(f"{f}.name", f"service name {s.name!r} is used twice")
        services.setdefault(s.name, s.tenant)
    return services
