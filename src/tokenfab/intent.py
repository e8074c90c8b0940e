"""The user's description of the factory (YAML) as typed, validated models.

Everything here is declarative: what the operator wants. `design()` turns it into a `Fabric`.
Unknown keys are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, PositiveInt, PrivateAttr, ValidationError, field_validator, model_validator

from tokenfab.errors import InputError
from tokenfab.strict import StrictModel, validation_message  # noqa: F401 (validation_message: re-exported)

M = TypeVar("M", bound=BaseModel)


NAME_RULE = (
    "1 to 32 lowercase letters, digits and '-', starting and ending with a letter or digit "
    "(it becomes Kubernetes, Slurm and SONiC names)"
)
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"


class Cluster(StrictModel):
    """The GPU servers and their NICs."""

    servers: PositiveInt = Field(description="GPU servers to build now")
    gpus_per_server: int = Field(8, ge=1, le=72, description="GPUs in each server")
    gpu_model: str = Field("H100", description="catalog GPU model")
    server_model: str | None = Field(None, description="catalog server model; default: the catalog's server for gpu_model")
    nics_per_server: int | None = Field(
        None, ge=1, le=32, description="backend NICs per server (one rail each); default: one per GPU"
    )
    nic_model: str = Field("ConnectX-7", description="catalog NIC model of the backend NICs")
    nic_speed_gbps: int | None = Field(None, gt=0, le=3200, description="NIC port speed; default: the NIC's catalog speed")
    planes: int | Literal["auto"] = Field(
        1,
        description="a NIC's ports split over this many parallel, separate fabrics (1-8), or auto: the design search "
        "tries every split the NIC and leaf run",
    )


class Tier(StrictModel):
    """One switch tier (leaf, spine or core)."""

    switch_model: str | None = Field(None, description="catalog switch model; default: fabric.switch_model")
    oversubscription: float = Field(1.0, ge=1.0, le=16.0, description="downlink : uplink bandwidth at most")
    downlink_breakout: str | None = Field(
        None,
        description="SONiC breakout mode of the downlink cages, e.g. '2x400G'; default: the mode that matches the link speed",
    )
    uplink_breakout: str | None = Field(
        None, description="SONiC breakout mode of the uplink cages; default: the highest speed both tiers support"
    )
    count: int | None = Field(
        None, ge=1, le=100_000, description="override the computed switch count (per group); not for leaves"
    )


class CableLengths(StrictModel):
    """Fixed run per tier; unset (the default) derives each run from the rack layout."""

    server_leaf_m: float | None = Field(None, gt=0, le=10_000, description="every server-to-leaf cable run")
    leaf_spine_m: float | None = Field(None, gt=0, le=10_000, description="every leaf-to-spine cable run")
    spine_core_m: float | None = Field(None, gt=0, le=10_000, description="every spine-to-core cable run")


class FabricSpec(StrictModel):
    """The backend (GPU) fabric: architecture, tiers and switches."""

    architecture: Literal["auto", "rail-only", "rail-optimized"] = Field(
        "auto",
        description="rail-optimized (rails join at the spines), rail-only (each rail its own fabric), "
        "or auto (the cheaper that meets cross_rail)",
    )
    tiers: Literal["auto", 1, 2, 3] = Field("auto", description="switch tiers; auto takes the fewest that fit")
    cross_rail: Literal["network", "nvlink"] = Field(
        "network",
        description="must GPUs on different rails reach each other through the network (network), "
        "or may they use the servers' NVLink (nvlink, which allows rail-only)?",
    )
    switch_model: str | list[str] = Field(
        "CX864E-N", description="catalog switch model of every tier that names none; a list lets the design search pick per tier"
    )
    objective: Literal["cost", "switches", "optics", "power"] = Field(
        "cost",
        description="what the design search minimises among the designs that meet the intent: cost (switches, "
        "cables and optics), switches (count), optics (cables and optics cost) or power (switches "
        "and optics)",
    )
    leaf: Tier = Field(Tier(), description="the leaf tier")
    spine: Tier = Field(Tier(), description="the spine tier")
    core: Tier = Field(Tier(), description="the core tier (three tiers only; it has no uplinks)")
    servers_per_su: int | None = Field(
        None, ge=1, le=100_000, description="override: servers per scalable unit (under one leaf of each rail)"
    )
    max_servers: int | None = Field(
        None, ge=1, description="size spines, cores and address blocks for growth to this many servers"
    )
    cable_lengths: CableLengths = Field(CableLengths(), description="fixed cable runs; unset: from the rack layout")

    @model_validator(mode="after")
    def _tiers(self) -> FabricSpec:
        if isinstance(self.switch_model, list) and not self.switch_model:
            raise ValueError("switch_model: an empty list; name at least one catalog switch")
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
    """How BGP AS numbers are given out (RFC 7938)."""

    scheme: Literal["auto", "16bit", "32bit"] = Field(
        "auto",
        description="private ASN range: 16bit (64512-65534), 32bit (4200000000 up), or auto (16-bit while it holds every leaf)",
    )
    spine: Literal["per-group", "unique"] = Field(
        "per-group",
        description="per-group: one ASN per spine group of a pod (RFC 7938: no BGP path "
        "hunting through other spines); unique: one per spine",
    )


class Addressing(StrictModel):
    """Address pools (IPv4, CIDR) and AS numbers."""

    management: str = Field("192.168.0.0/16", description="management (eth0) addresses of every device")
    loopbacks: str = Field("10.0.0.0/16", description="switch loopbacks (router IDs)")
    p2p: str = Field("10.4.0.0/14", description="switch-to-switch /31 links")
    servers: str = Field("10.64.0.0/10", description="server NIC addresses")
    server_links: Literal["vlan", "p31"] = Field(
        "vlan", description="vlan: one subnet per leaf (VLAN + SVI); p31: a /31 per NIC link"
    )
    vlan_base: int = Field(100, ge=1, le=3000, description="the VLAN of rail k (1-based) is vlan_base + k")
    asn: Asn = Field(Asn(), description="AS numbering")

    @model_validator(mode="after")
    def _pools(self) -> Addressing:
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

    nics_per_server: int = Field(1, ge=1, le=8, description="NIC ports per GPU server on this network")
    speed_gbps: int = Field(200, gt=0, le=3200, description="port speed of every link in this network")
    switch_model: str = Field("CX732Q-N", description="catalog switch model of its leaves and spines")
    oversubscription: float = Field(2.0, ge=1.0, le=16.0, description="leaf downlink : uplink bandwidth")
    storage_nodes: int = Field(0, ge=0, le=1_000_000, description="storage servers on this network (storage only)")
    storage_node_links: int = Field(2, ge=1, le=8, description="ports per storage server")


class Racks(StrictModel):
    """Rack layout: what fits a rack, and how far apart racks stand (cable lengths follow)."""

    power_budget_kw: float = Field(40.0, gt=0, le=1000, description="power a rack may draw")
    rack_units: int = Field(42, ge=8, le=100, description="height of a rack in U")
    spares_percent: float = Field(0.0, ge=0, le=100, description="extra optics and cables on the BOM")
    rack_width_m: float = Field(0.6, gt=0, le=5, description="width of a rack")
    row_pitch_m: float = Field(3.0, gt=0, le=100, description="rack depth + aisle between rows")


class Roce(StrictModel):
    """RoCEv2 QoS: a profile from the catalog (tokenfab/catalog/data/roce-profiles.yaml), ECN thresholds
    overridable."""

    profile: str = Field("dcqcn-26", description="RoCE profile name (PFC priorities, DSCP map, ECN, buffers)")
    ecn_min_bytes: int | None = Field(None, gt=0, le=2**32, description="WRED/ECN marking starts at this egress queue depth")
    ecn_max_bytes: int | None = Field(None, gt=0, le=2**32, description="marking probability reaches its maximum here")
    ecn_mark_probability_percent: int | None = Field(None, ge=1, le=100, description="the maximum marking probability")

    @model_validator(mode="after")
    def _thresholds(self) -> Roce:
        if self.ecn_min_bytes and self.ecn_max_bytes and self.ecn_min_bytes >= self.ecn_max_bytes:
            raise ValueError(f"ecn_min_bytes ({self.ecn_min_bytes}) must be below ecn_max_bytes ({self.ecn_max_bytes})")
        return self


class Intent(StrictModel):
    """What the operator wants built: the cluster, its fabric, addresses, side networks and racks."""

    name: str = Field("fabric", json_schema_extra={"pattern": NAME_PATTERN}, description=f"the fabric's name: {NAME_RULE}")
    description: str = Field("", description="free text for people")
    cluster: Cluster = Field(description="the GPU servers and their NICs")
    fabric: FabricSpec = Field(FabricSpec(), description="the backend (GPU) fabric")
    addressing: Addressing = Field(Addressing(), description="address pools and AS numbers")
    frontend: SideNetwork | None = Field(None, description="the frontend network (none if unset)")
    storage: SideNetwork | None = Field(None, description="the storage network (none if unset)")
    racks: Racks = Field(Racks(), description="rack layout")
    roce: Roce = Field(Roce(), description="RoCEv2 QoS")
    prices_usd: dict[str, float] = Field(default_factory=dict, description="price override per catalog model")
    power_w: dict[str, float] = Field(default_factory=dict, description="power override per catalog model")
    catalog: list[str] = Field(
        default_factory=list,
        description=(
            "your own catalog files or folders (GPUs, NICs, switches, servers, optics, models), relative to "
            "this file; an entry with a shipped name overrides it. See `tokenfab schema catalog`."
        ),
    )
    # The user catalog layers this intent was checked against (user-wide folder, --catalog, its own files).
    _catalog_layers: tuple = PrivateAttr(default=())

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(f"must be {NAME_RULE}")
        return value

    @property
    def nics_per_server(self) -> int:
        return self.cluster.nics_per_server or self.cluster.gpus_per_server

    @property
    def catalog_layers(self) -> tuple:
        return self._catalog_layers


def validated(model: type[M], data: object, source: str, keys: str) -> M:
    """`data` (a parsed YAML/JSON mapping) as `model`, or InputError with every field path at fault.
    `keys` names the expected top-level keys for the message when `data` is not a mapping."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of keys ({keys}), got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {validation_message(exc)}") from None


def parse_intent(data: object, source: str = "intent", base: Path | None = None, layers: tuple | None = None) -> Intent:
    """`data` as an Intent checked against its catalog. The catalog is the active one (user-wide
    folder, --catalog) plus the intent's own `catalog:` files read relative to `base` (the intent's
    folder; default the working folder), unless `layers` gives the full set (a fabric's record)."""
    from tokenfab.catalog import active_layers
    from tokenfab.catalog.files import read_layers

    intent = validated(Intent, data, source, "cluster, fabric, ...")
    if layers is None:
        own = read_layers(intent.catalog, base or Path.cwd(), origin="intent") if intent.catalog else ()
        layers = active_layers() + own
    intent._catalog_layers = tuple(layers)
    check_catalog_refs(intent, source)
    return intent


def load_intent(path: str | Path) -> Intent:
    from tokenfab.fileio import load_yaml

    return parse_intent(load_yaml(path, "intent"), str(path), base=Path(path).parent)


def check_catalog_refs(intent: Intent, source: str = "intent") -> None:
    """Every catalog name the intent uses exists and fits; one InputError lists all that do not."""
    from tokenfab.catalog import default_server, load_catalog, unknown_message

    cat = load_catalog(intent.catalog_layers)
    problems: list[str] = []

    def ref(kind: str, name: str, field: str):
        if name in getattr(cat, kind):
            return getattr(cat, kind)[name]
        problems.append(f"{field}: {unknown_message(kind, name, getattr(cat, kind))}")
        return None

    c = intent.cluster
    ref("gpus", c.gpu_model, "cluster.gpu_model")
    nic = ref("nics", c.nic_model, "cluster.nic_model")
    server = ref("servers", c.server_model, "cluster.server_model") if c.server_model else None
    if server is not None:
        if server.gpu_model != c.gpu_model:
            problems.append(
                f"cluster.server_model: {server.model} holds {server.gpu_model} GPUs, not cluster.gpu_model {c.gpu_model}"
            )
        if server.gpus != c.gpus_per_server:
            problems.append(
                f"cluster.gpus_per_server: {c.gpus_per_server}, but server {server.model} holds "
                f"{server.gpus} GPUs (set gpus_per_server: {server.gpus})"
            )
    if c.gpu_model in cat.gpus and (server is not None or not c.server_model):
        srv = server or default_server(cat, c.gpu_model, c.gpus_per_server)
        ds = srv.scaleup_domain_servers
        if ds > 1 and c.servers % ds:
            problems.append(
                f"cluster.servers: {c.servers} is not a whole number of {srv.model} scale-up domains "
                f"({ds} servers, {ds * srv.gpus} GPUs each): use {ds * max(1, c.servers // ds)} or "
                f"{ds * (c.servers // ds + 1)}"
            )
    if nic is not None:
        speed = c.nic_speed_gbps or nic.speed_gbps
        if speed > nic.speed_gbps:
            problems.append(f"cluster.nic_speed_gbps: {speed}G is faster than the {nic.model}'s {nic.speed_gbps}G")
        elif c.planes != "auto" and not 1 <= c.planes <= 8:
            problems.append(f"cluster.planes: must be 1 to 8 or auto (got {c.planes})")
        elif c.planes != "auto" and speed % c.planes:
            problems.append(f"cluster.planes: a {speed}G NIC cannot split evenly over {c.planes} planes")
    f = intent.fabric
    models = f.switch_model if isinstance(f.switch_model, list) else [f.switch_model]
    for i, model in enumerate(models):
        ref("switches", model, "fabric.switch_model" + (f"[{i}]" if isinstance(f.switch_model, list) else ""))
    for tier in ("leaf", "spine", "core"):
        model = getattr(f, tier).switch_model
        if model:
            ref("switches", model, f"fabric.{tier}.switch_model")
    for side in ("frontend", "storage"):
        net = getattr(intent, side)
        if net:
            ref("switches", net.switch_model, f"{side}.switch_model")
    from tokenfab.catalog.roce import resolve

    try:
        resolve(intent.roce)  # the profile exists and the overrides fit it
    except InputError as exc:
        problems.append(str(exc))
    known = set(cat.switches) | set(cat.nics) | set(cat.gpus) | set(cat.servers) | set(cat.optics)
    for table, most in (("prices_usd", 1e9), ("power_w", 1e7)):  # one item: a billion dollars, ten megawatts
        for model, value in getattr(intent, table).items():
            if model not in known:
                problems.append(f"{table}.{model}: unknown catalog model {model!r}; known: {', '.join(sorted(known))}")
            elif not 0 <= value <= most:
                problems.append(f"{table}.{model}: must be from 0 to {most:,.0f} (got {value:g})")
    if len(problems) == 1:
        raise InputError(f"{source}: {problems[0]}")
    if problems:
        raise InputError(f"{source}: {len(problems)} problems:\n  " + "\n  ".join(problems))
