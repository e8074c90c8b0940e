"""The typed parts of `fabric.json` besides the tables: the design summary and the expectations.

Both are frozen models, so `fabric.schema.json` states every key a reader may rely on and a
fabric.json edited by hand (or written by an older tokenfab) is refused with the field at fault.
Field order is the order of the keys in fabric.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tokenfab.strict import StrictModel


class ContractModel(StrictModel):
    """Frozen and strict like a user file; also readable as a mapping (`d["gpus"]`, `d.get(...)`)
    for readers written against the dicts fabric.json held before it was typed."""

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key) if key in type(self).model_fields else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:  # an optional key that is unset is absent, as in fabric.json
        return key in type(self).model_fields and getattr(self, key) is not None


class TierSummary(ContractModel):
    """How one switch of a tier splits its ports."""

    model: str = Field(description="catalog switch model of this tier")
    down_ports: int = Field(ge=0, description="logical ports (after breakout) facing down, per switch")
    down_speed_gbps: int = Field(ge=0, description="speed of each downlink port")
    down_breakout: str = Field(description="SONiC breakout mode of the downlink cages, e.g. '2x400G'")
    up_ports: int = Field(ge=0, description="logical ports facing up, per switch (0 on the top tier)")
    up_speed_gbps: int = Field(ge=0, description="speed of each uplink port (0 on the top tier)")
    up_breakout: str = Field(description="SONiC breakout mode of the uplink cages ('' on the top tier)")
    oversubscription: float = Field(
        gt=0,
        description="downlink : uplink bandwidth as built (below 1 when spreading the "
        "uplinks evenly over the spines takes more; 1.0 on the top tier)",
    )


class SideFabric(ContractModel):
    """A frontend or storage network sized as a two-tier Clos of its own."""

    name: Literal["frontend", "storage"] = Field(description="which side network")
    switch_model: str = Field(description="catalog switch model of its leaves and spines")
    speed_gbps: int = Field(gt=0, description="port speed of every link in it")
    endpoints: int = Field(ge=0, description="server NIC ports + storage node ports")
    server_ports: int = Field(ge=0, description="server NIC ports attached")
    storage_ports: int = Field(ge=0, description="storage node ports attached")
    leaves: int = Field(ge=1, description="leaf switches")
    spines: int = Field(ge=0, description="spine switches (0 when one leaf holds every endpoint)")
    down_per_leaf: int = Field(ge=0, description="endpoint ports per leaf")
    up_per_leaf: int = Field(ge=0, description="uplinks per leaf")
    endpoint_optic: str = Field(description="catalog optic or cable for endpoint links ('' if none fits)")
    uplink_optic: str = Field(description="catalog optic or cable for leaf-spine links ('' if none fits)")
    oversubscription: float = Field(gt=0, description="leaf downlink : uplink bandwidth")
    bisection_gbps: float = Field(
        ge=0, description="what crosses the spines when every endpoint sends: the bottleneck for storage traffic"
    )
    storage_gbps: float = Field(ge=0, description="the storage nodes' own ports, summed")


class DesignSummary(ContractModel):
    """What `design()` chose and why: architecture, sizes per tier, side networks, reasons."""

    architecture: Literal["rail-only", "rail-optimized"] = Field(description="the chosen architecture")
    tiers: Literal[1, 2, 3] = Field(description="switch tiers of the GPU fabric")
    planes: int = Field(ge=1, description="parallel identical fabrics a NIC's ports split over")
    rails: int = Field(ge=1, description="NIC ports per server per plane (one rail each)")
    servers: int = Field(ge=1, description="GPU servers present now")
    gpus: int = Field(ge=1, description="GPUs present now")
    gpu_model: str = Field(description="catalog GPU model")
    nic_model: str = Field(description="catalog NIC model")
    link_speed_gbps: int = Field(gt=0, description="NIC port speed per plane")
    servers_per_su: int = Field(ge=1, description="servers under one leaf of each rail (a scalable unit)")
    scalable_units: int = Field(ge=1, description="scalable units present now")
    scalable_units_max: int = Field(ge=1, description="scalable units the spines and address blocks are sized for")
    sus_per_pod: int = Field(ge=0, description="scalable units per pod (three tiers; else 0)")
    pods: int = Field(ge=0, description="pods present now (three tiers; else 0)")
    pods_max: int = Field(ge=0, description="pods the core is sized for (three tiers; else 0)")
    leaves: int = Field(ge=1, description="leaf switches over all planes")
    spines: int = Field(ge=0, description="spine switches over all planes")
    cores: int = Field(ge=0, description="core switches over all planes")
    spines_per_group: int = Field(ge=0, description="spines per group: plane (2 tiers), pod (3 tiers) or rail (rail-only)")
    leaf_spine_links: int = Field(ge=0, description="parallel links between a leaf and each spine of its group")
    cores_per_group: int = Field(ge=0, description="cores per core group (core group j joins spine j of every pod)")
    spine_core_links: int = Field(ge=0, description="parallel links between a spine and each core of its group")
    tiers_detail: dict[Literal["leaf", "spine", "core"], TierSummary] = Field(description="port split of each tier present")
    networks: dict[Literal["frontend", "storage"], SideFabric] = Field(
        description="the frontend and storage networks the intent asks for"
    )
    reasons: list[str] = Field(description="why the design is what it is, for people")
    scaleup_domain_servers: int | None = Field(
        None,
        ge=2,
        description=(
            "servers (trays) sharing one NVLink domain, e.g. 18 for an NVL72 rack; absent when a server is its own domain"
        ),
    )


class ReachGroup(ContractModel):
    name: str = Field(description="e.g. 'plane 1' or 'plane 1 rail 3'")
    leaves: list[str] = Field(description="leaves that must reach each other's subnets")


class Expectations(ContractModel):
    """What the twin and the validators check: sessions, ECMP widths, who reaches whom."""

    bgp_sessions: int = Field(ge=0, description="eBGP sessions (one per switch-to-switch link)")
    leaf_ecmp_links: dict[str, int] = Field(description="per leaf: its uplinks, the ECMP width toward the spines")
    spine_to_leaf_links: int = Field(ge=0, description="parallel links between a spine and each leaf of its group")
    reach_groups: list[ReachGroup] = Field(description="groups of leaves whose server subnets reach each other")
    unreachable_by_design: list[str] = Field(description="which leaves must NOT reach each other, and why")
