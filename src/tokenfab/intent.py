"""The user's description of the factory (YAML) as typed, validated models.

Everything here is declarative: what the operator wants. `design()` turns it into a `Fabric`.
Unknown keys are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from tokenfab.strict import StrictModel
from tokenfab.errors import InputError, excerpt, shorten


M = TypeVar("M", bound=BaseModel)



class Cluster(StrictModel):
    servers: PositiveInt
    gpus_per_server: int = Field(8, ge=1, le=72)
    gpu_model: str = "H100"
    server_model: str | None = None  # catalog server; default: the catalog's server for gpu_model
    nics_per_server: int | None = Field(None, ge=1, le=32)  # default: one per GPU
    nic_model: str = "ConnectX-7"
    nic_speed_gbps: int | None = Field(None, gt=0)  # default: the NIC's catalog speed
    planes: int = Field(1, ge=1, le=8)  # a NIC's ports split over this many parallel fabrics


class Tier(StrictModel):
    switch_model: str | None = None  # default: fabric.switch_model
    oversubscription: float = Field(1.0, ge=1.0, le=16.0)  # downlink : uplink bandwidth
    downlink_breakout: str | None = None  # SONiC mode, e.g. "2x400G"; default: matches the link speed
    uplink_breakout: str | None = None  # default: the cage's native speed
    count: int | None = Field(None, ge=1)  # override the computed count (per group)


class CableLengths(StrictModel):
    """Fixed run per tier; unset (the default) derives each run from the rack layout."""

    server_leaf_m: float | None = Field(None, gt=0)
    leaf_spine_m: float | None = Field(None, gt=0)
    spine_core_m: float | None = Field(None, gt=0)


class FabricSpec(StrictModel):
    architecture: Literal["auto", "rail-only", "rail-optimized"] = "auto"
    tiers: Literal["auto", 1, 2, 3] = "auto"
    # Must GPUs on different rails reach each other through the network, or may they use NVLink?
    cross_rail: Literal["network", "nvlink"] = "network"
    switch_model: str = "CX864E-N"
    leaf: Tier = Tier()
    spine: Tier = Tier()
    core: Tier = Tier()
    servers_per_su: int | None = Field(None, ge=1)  # override: servers per scalable unit
    max_servers: int | None = Field(None, ge=1)  # size spines/cores and address blocks for growth
    cable_lengths: CableLengths = CableLengths()

    @model_validator(mode="after")
    def _tiers(self) -> "FabricSpec":
        if self.leaf.count is not None:
            raise ValueError("leaf.count: leaves follow from servers and rails; set servers_per_su to size scalable units")
        if self.core.uplink_breakout is not None or self.core.oversubscription != 1.0:
            raise ValueError("core: the core is the top tier and has no uplinks (drop uplink_breakout / oversubscription)")
        return self


def _net(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"not an IPv4 network in CIDR form ({exc})") from None


class Asn(StrictModel):
    scheme: Literal["auto", "16bit", "32bit"] = "auto"
    spine: Literal["per-group", "unique"] = "per-group"  # RFC 7938: one ASN per spine group of a pod


class Addressing(StrictModel):
    management: str = "192.168.0.0/16"
    loopbacks: str = "10.0.0.0/16"
    p2p: str = "10.4.0.0/14"
    servers: str = "10.64.0.0/10"
    server_links: Literal["vlan", "p31"] = "vlan"  # one subnet per leaf (VLAN + SVI), or a /31 per NIC
    vlan_base: int = Field(100, ge=1, le=3000)  # VLAN of rail k (1-based) is vlan_base + k
    asn: Asn = Asn()

    @model_validator(mode="after")
    def _pools(self) -> "Addressing":
        nets = {}
        for name in ("management", "loopbacks", "p2p", "servers"):
            try:
                nets[name] = ipaddress.IPv4Network(_net(getattr(self, name)))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        names = list(nets)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if nets[a].overlaps(nets[b]):
                    raise ValueError(f"pools {a} ({nets[a]}) and {b} ({nets[b]}) overlap")
        return self


class SideNetwork(StrictModel):
    """A frontend or storage network, counted in the BOM (a two-tier Clos of its own)."""

    nics_per_server: int = Field(1, ge=1, le=8)
    speed_gbps: int = Field(200, gt=0)
    switch_model: str = "CX732Q-N"
    oversubscription: float = Field(2.0, ge=1.0, le=16.0)
    storage_nodes: int = Field(0, ge=0)  # storage servers on this network (storage only)
    storage_node_links: int = Field(2, ge=1, le=8)


class Racks(StrictModel):
    power_budget_kw: float = Field(40.0, gt=0)
    rack_units: int = Field(42, ge=8)
    spares_percent: float = Field(0.0, ge=0, le=100)  # extra optics/cables on the BOM
    rack_width_m: float = Field(0.6, gt=0)
    row_pitch_m: float = Field(3.0, gt=0)  # rack depth + aisle between rows


class Roce(StrictModel):
    """RoCEv2 QoS: a profile from tokenfab/configure/data/roce-profiles.yaml, ECN thresholds overridable."""

    profile: str = "dcqcn-26"
    ecn_min_bytes: int | None = Field(None, gt=0)  # WRED/ECN marking starts (egress queue depth)
    ecn_max_bytes: int | None = Field(None, gt=0)  # marking probability reaches its maximum
    ecn_mark_probability_percent: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _thresholds(self) -> "Roce":
        if self.ecn_min_bytes and self.ecn_max_bytes and self.ecn_min_bytes >= self.ecn_max_bytes:
            raise ValueError(f"ecn_min_bytes ({self.ecn_min_bytes}) must be below ecn_max_bytes ({self.ecn_max_bytes})")
        return self


class Intent(StrictModel):
    name: str = Field("fabric", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    description: str = ""
    cluster: Cluster
    fabric: FabricSpec = FabricSpec()
    addressing: Addressing = Addressing()
    frontend: SideNetwork | None = None
    storage: SideNetwork | None = None
    racks: Racks = Racks()
    roce: Roce = Roce()
    prices_usd: dict[str, float] = Field(default_factory=dict)  # override per catalog model
    power_w: dict[str, float] = Field(default_factory=dict)

    @property
    def nics_per_server(self) -> int:
        return self.cluster.nics_per_server or self.cluster.gpus_per_server


def validation_message(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see examples/ for the accepted keys)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {excerpt(got)})"
        lines.append(f"{excerpt(path, 120) if len(path) > 120 else path}: {shorten(msg, 300)}{shown}")
    more = f"; and {len(lines) - 10} more" if len(lines) > 10 else ""
    return "; ".join(lines[:10]) + more


def validated(model: type[M], data: object, source: str, keys: str) -> M:
    """`data` (a parsed YAML/JSON mapping) as `model`, or InputError with every field path at fault.
    `keys` names the expected top-level keys for the message when `data` is not a mapping."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of keys ({keys}), got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {validation_message(exc)}") from None


def parse_intent(data: object, source: str = "intent") -> Intent:
    intent = validated(Intent, data, source, "cluster, fabric, ...")
    _check_catalog_refs(intent)
    return intent


def load_intent(path: str | Path) -> Intent:
    from tokenfab.fileio import load_yaml

    return parse_intent(load_yaml(path, "intent"), str(path))


def _check_catalog_refs(intent: Intent) -> None:
    from tokenfab.catalog import load_catalog

    cat = load_catalog()
    c = intent.cluster
    cat.get("gpus", c.gpu_model, "cluster.gpu_model")
    nic = cat.get("nics", c.nic_model, "cluster.nic_model")
    if c.server_model:
        cat.get("servers", c.server_model, "cluster.server_model")
    speed = c.nic_speed_gbps or nic.speed_gbps
    if speed > nic.speed_gbps:
        raise InputError(f"{speed}G is faster than the {nic.model}'s {nic.speed_gbps}G", "cluster.nic_speed_gbps")
    if speed % c.planes:
        raise InputError(f"a {speed}G NIC cannot split evenly over {c.planes} planes", "cluster.planes")
    f = intent.fabric
    cat.get("switches", f.switch_model, "fabric.switch_model")
    for tier in ("leaf", "spine", "core"):
        model = getattr(f, tier).switch_model
        if model:
            cat.get("switches", model, f"fabric.{tier}.switch_model")
    for side in ("frontend", "storage"):
        net = getattr(intent, side)
        if net:
            cat.get("switches", net.switch_model, f"{side}.switch_model")
    from tokenfab.configure.roce import resolve

    resolve(intent.roce)  # the profile exists and the overrides fit it
    known = set(cat.switches) | set(cat.nics) | set(cat.gpus) | set(cat.servers) | set(cat.optics)
    for table in ("prices_usd", "power_w"):
        for model, value in getattr(intent, table).items():
            if model not in known:
                raise InputError(f"unknown catalog model {model!r}; known: {', '.join(sorted(known))}", f"{table}.{model}")
            if value < 0:
                raise InputError(f"must be >= 0 (got {value})", f"{table}.{model}")
