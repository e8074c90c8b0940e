"""Storage: tiers over the storage fabric (datasets, checkpoints, registered models)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tokenfab.factory.spec.common import NAME, Place, Problems, Renamed
from tokenfab.strict import StrictModel

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec

TIER_USD_PER_TBYTE_MONTH = {"parallel-fs": 140.0, "object-store": 23.0}  # ~ public-cloud list prices


class Tier(Renamed):
    """A storage tier: capacity, bandwidth, price, and where it is."""

    RENAMED = {"capacity_tb": "capacity_tbytes", "usd_per_tb_month": "usd_per_tbyte_month"}

    name: str = Field(pattern=NAME, description="Tier name, referenced by pipelines, datasets, checkpoints.")
    kind: Literal["parallel-fs", "object-store"] = Field("parallel-fs", description="What kind of storage.")
    capacity_tbytes: float = Field(gt=0, description="Usable capacity, TB (10^12 bytes).")
    read_gbytes_per_s: float = Field(gt=0, description="Aggregate read bandwidth, GB/s.")
    write_gbytes_per_s: float = Field(gt=0, description="Aggregate write bandwidth, GB/s.")
    usd_per_tbyte_month: float | None = Field(
        None,
        ge=0,
        description="Price of capacity, $ per TB (10^12 bytes) and month "
        "(default by kind: ~public-cloud list prices, $140 parallel FS, $23 object store).",
    )
    place: Place = Field(Place(), description="Where the tier is (sovereignty checks).")

    @property
    def price_usd_per_tbyte_month(self) -> float:
        return TIER_USD_PER_TBYTE_MONTH[self.kind] if self.usd_per_tbyte_month is None else self.usd_per_tbyte_month


class StorageSpec(StrictModel):
    """The storage tiers and which ones hold checkpoints and registered models."""

    tiers: list[Tier] = Field(min_length=1, description="The storage tiers.")
    checkpoints: str | None = Field(None, description="Tier for checkpoints (default: the first parallel-fs).")
    registry: str | None = Field(None, description="Tier for registered models (default: the first object store).")
    fabric_gbps: float | None = Field(
        None,
        gt=0,
        description="The storage fabric's bandwidth (what-if); default: the plan's storage network "
        "(`storage:` in the intent), else its frontend network (converged).",
    )

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


def check(spec: FactorySpec, p: Problems) -> set[str]:
    """Tier names unique, their sites known, checkpoint and registry tiers known. Returns the tier names."""
    if spec.storage is None:
        return set()
    st = spec.storage
    p.unique([t.name for t in st.tiers], "storage.tiers", "tier")
    tiers = {t.name for t in st.tiers}
    for k, t in enumerate(st.tiers):
        if t.place.site is not None:
            p.one_of(t.place.site, spec.sites, f"storage.tiers.{k}.place.site", "site")
    for key in ("checkpoints", "registry"):
        if getattr(st, key) is not None:
            p.one_of(getattr(st, key), tiers, f"storage.{key}", "storage tier")
    return tiers
