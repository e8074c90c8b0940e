"""Tenants: quotas and sovereignty."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, PositiveInt, model_validator

from tokenfab.factory.spec.common import NAME, Place, Problems
from tokenfab.strict import StrictModel

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class Sovereignty(Place):
    """The tenant's jobs, services, pipelines and data stay inside this place; `exclusive` keeps
    every other tenant out of it."""

    exclusive: bool = Field(False, description="Keep every other tenant out of this place.")

    @model_validator(mode="after")
    def _some(self) -> Sovereignty:
        if not self.given:
            raise ValueError("sovereignty names racks, pods, sus or a site")
        return self


class Tenant(StrictModel):
    """A tenant of the factory; without a `tenants` list everything belongs to `default`."""

    name: str = Field(pattern=NAME, description="Tenant name, referenced by jobs, services, data.")
    quota_gpus: PositiveInt | None = Field(None, description="Most GPUs the tenant holds at once.")
    sovereignty: Sovereignty | None = Field(None, description="Where the tenant's work and data must stay.")


def check(spec: FactorySpec, p: Problems) -> None:
    p.unique([t.name for t in spec.tenants], "tenants", "tenant")
    for k, t in enumerate(spec.tenants):
        if t.sovereignty and t.sovereignty.site is not None:
            p.one_of(t.sovereignty.site, spec.sites, f"tenants.{k}.sovereignty.site", "site")


def check_tenant(spec: FactorySpec, p: Problems, value: str, field: str) -> None:
    """A tenant reference (any name is fine when the description lists no tenants)."""
    if spec.tenants:
        p.one_of(value, [t.name for t in spec.tenants], field, "tenant")
