"""The catalog: switches, NICs, GPUs, servers, optics and model architectures as YAML data.

Code never hard-codes a SKU's figures; it asks the catalog. Figures not taken from a datasheet or
an upstream file are marked as estimates in each item's `sources`.

The shipped files (catalog/data, workload/data/models.yaml) are the base; users add or override
entries in their own files of the same schema (`tokenfab.catalog.files`). The catalog in force is
the shipped one plus the active *layers* (user files, in order; a later entry of the same name
wins): `load_catalog()` reads the layers active in this context, `use_catalog()` sets them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from tokenfab.catalog.models import ModelArch
from tokenfab.errors import InputError
from tokenfab.strict import StrictModel


class _Item(StrictModel):
    model: str = Field(description="the catalog name other files refer to (e.g. an intent's gpu_model)")
    vendor: str = Field("", description="maker")
    price_usd: NonNegativeFloat = Field(0.0, description="purchase price of one unit, USD")
    power_w: NonNegativeFloat = Field(0.0, description="typical or maximum power of one unit, W")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description=("where each figure comes from, by field name; a figure not from a datasheet says 'estimate'"),
    )


class BreakoutMode(StrictModel):
    mode: str = Field(description="SONiC breakout mode name, e.g. '2x400G'")
    children: PositiveInt = Field(description="ports one cage splits into")
    speed_gbps: PositiveInt = Field(description="speed of each child port, Gb/s")


class PortMapEntry(StrictModel):
    name: str = Field(description="SONiC port name, e.g. Ethernet0")
    lanes: str = Field(description="ASIC serdes lanes, comma-separated (port_config.ini 'lanes')")
    alias: str = Field("", description="front-panel alias")
    index: int = Field(0, description="front-panel cage number")
    speed_gbps: PositiveInt | None = Field(None, description="default speed of the port, Gb/s")


class SonicPlatform(StrictModel):
    platform: str = Field(description="SONiC platform folder name (DEVICE_METADATA.platform)")
    hwsku: str = Field(description="default HWSKU (DEVICE_METADATA.hwsku)")
    hwskus: dict[str, str] = Field(default_factory=dict, description="other HWSKUs of the platform and what they are")
    source: str = Field("", description="upstream file(s) the port map was read from")
    model: str = Field("", description="the real box a generic catalog entry stands for")
    port_map: list[PortMapEntry] = Field(description="one entry per front-panel cage, in order")
    breakout_children: dict[str, list[int]] = Field(
        default_factory=dict, description=("per breakout mode, each child's offset from its parent's Ethernet number")
    )
    extra_ports: list[PortMapEntry] = Field(
        default_factory=list, description="ports besides the cages (e.g. a 10G management-side port)"
    )
    fec_by_speed_gbps: dict[int, str] = Field(default_factory=dict, description="FEC mode per port speed")
    mtu: PositiveInt = Field(9100, description="port MTU, bytes")
    lossless_headroom: dict | None = Field(None, description="pg_profile_lookup.ini rows for the lossless PG headroom")
    buffer_pools: dict | None = Field(None, description="buffer pool sizes from the platform's buffer template")


class Switch(_Item):
    asic: str = Field("", description="switch ASIC")
    kind: Literal["ethernet", "infiniband"] = Field("ethernet", description="fabric technology")
    ports: PositiveInt = Field(description="front-panel cages")
    port_speed_gbps: PositiveInt = Field(description="native speed of one cage, Gb/s")
    lanes_per_port: PositiveInt = Field(8, description="serdes lanes per cage")
    breakout_modes: list[BreakoutMode] = Field(description="how a cage may be split")
    rack_units: PositiveInt = Field(1, description="height, U")
    latency_ns: PositiveFloat | None = Field(None, description="port-to-port latency, ns")
    buffer_mbytes: PositiveFloat | None = Field(None, description="packet buffer, MB (1e6 bytes)")
    sonic: SonicPlatform | None = Field(
        None, description="SONiC platform facts (port map, breakouts, buffers); configure needs them"
    )

    @property
    def buffer_mb(self) -> float | None:  # the field's earlier name, for readers not yet renamed
        return self.buffer_mbytes

    def mode_for_speed(self, speed_gbps: int) -> BreakoutMode | None:
        """The breakout mode whose children run at `speed_gbps` (fewest children first)."""
        modes = sorted((m for m in self.breakout_modes if m.speed_gbps == speed_gbps), key=lambda m: m.children)
        return modes[0] if modes else None

    def port_name(self, cage: int, child: int, mode: BreakoutMode) -> str:
        """SONiC name of child `child` of cage `cage` (0-based) under breakout `mode`."""
        if self.sonic is None:
            return f"port{cage + 1}" + (f"/{child + 1}" if mode.children > 1 else "")
        parent = self.sonic.port_map[cage].name
        base = int(parent.removeprefix("Ethernet"))
        offsets = self.sonic.breakout_children.get(mode.mode)
        if offsets is None:
            step = self.lanes_per_port // mode.children
            offsets = [c * step for c in range(mode.children)]
        return f"Ethernet{base + offsets[child]}"


class Nic(_Item):
    speed_gbps: PositiveInt = Field(description="total bandwidth of the adapter, Gb/s")
    ports: PositiveInt = Field(1, description="network ports")
    port_speeds_gbps: list[PositiveInt] = Field(default_factory=list, description="speeds a port can run, Gb/s")
    pcie: str = Field("", description="host interface, e.g. 'Gen5 x16'")


class Gpu(_Item):
    form: str = Field("", description="form factor (SXM5, OAM, ...)")
    bf16_dense_tflops: PositiveFloat = Field(description="dense BF16 tensor TFLOPS (not the 2:4-sparse figure)")
    fp8_dense_tflops: PositiveFloat | None = Field(None, description="dense FP8 tensor TFLOPS")
    hbm_gbytes: PositiveFloat = Field(description="HBM capacity, GB (1e9 bytes)")
    hbm_tbytes_per_s: PositiveFloat = Field(description="HBM bandwidth, TB/s")
    nvlink_gbytes_per_s_per_direction: PositiveFloat = Field(
        description=("scale-up (NVLink / Infinity Fabric / Gaudi RoCE) bandwidth per GPU in one direction, GB/s")
    )
    tdp_w: PositiveFloat = Field(description="board power, W")
    price_usd_per_hour: NonNegativeFloat | None = Field(None, description="rental price per GPU-hour, USD")
    nvls: bool = Field(False, description="NVLink SHARP (in-switch all-reduce) inside the NVLink domain")

    @property
    def hbm_gb(self) -> float:  # the field's earlier name, for readers not yet renamed
        return self.hbm_gbytes


class Server(_Item):
    gpus: PositiveInt = Field(description="GPUs in one server (or one compute tray)")
    gpu_model: str = Field(description="catalog GPU in the server")
    rack_units: PositiveInt = Field(8, description="height, U")
    scaleup_domain_servers: PositiveInt = Field(
        1,
        description=(
            "servers (compute trays) whose GPUs share one scale-up (NVLink) domain: 1 for an HGX box, "
            "18 for a GB200 NVL72 rack. Tensor-parallel traffic never leaves the domain."
        ),
    )

    @property
    def scaleup_domain_gpus(self) -> int:
        return self.gpus * self.scaleup_domain_servers


class Optic(_Item):
    kind: Literal["dac", "aec", "aoc", "transceiver", "fiber"] = Field(description="medium")
    speed_gbps: PositiveInt = Field(description="link speed, Gb/s")
    reach_m: NonNegativeFloat = Field(0.0, description="longest run, m")
    lengths_m: list[PositiveFloat] = Field(default_factory=list, description="lengths sold (cables), m")
    ends: PositiveInt = Field(1, description="units per link (2 for a transceiver pair priced per end)")
    breakout: PositiveInt = Field(1, description="far ends per switch end (2 for an 800G-to-2x400G part)")
    fiber: str | None = Field(None, description="the catalog fibre item a transceiver link needs")
    far_end: str | None = Field(None, description="for a splitter transceiver, the transceiver at each far end")


# kind -> entry schema. `models` stay rows in the Catalog: tokenfab.workload.models types them as
# ModelSpec (ModelArch + the arithmetic on it).
KINDS: dict[str, type[StrictModel]] = {
    "switches": Switch,
    "nics": Nic,
    "gpus": Gpu,
    "servers": Server,
    "optics": Optic,
    "models": ModelArch,
}
SINGULAR = {"switches": "switch", "nics": "NIC", "gpus": "GPU", "servers": "server", "optics": "optic", "models": "model"}


class CatalogFile(StrictModel):
    """A catalog file: any of the kinds, each a list of entries (the shipped files' schema)."""

    switches: list[Switch] = Field(
        default_factory=list, description="Ethernet/InfiniBand switches with their SONiC platform facts"
    )
    nics: list[Nic] = Field(default_factory=list, description="scale-out network adapters")
    gpus: list[Gpu] = Field(default_factory=list, description="accelerators")
    servers: list[Server] = Field(default_factory=list, description="GPU servers (or compute trays of a rack-scale domain)")
    optics: list[Optic] = Field(default_factory=list, description="cables, transceivers and fibre")
    models: list[ModelArch] = Field(default_factory=list, description="model architectures for workloads")


def reference_problems(cat: Catalog) -> list[str]:
    """Names one entry gives for another (a server's GPU, an optic's fibre) that the catalog lacks."""
    out = []
    for s in cat.servers.values():
        if s.gpu_model not in cat.gpus:
            out.append(
                f"server {s.model!r} ({cat.source_of('servers', s.model)}): gpu_model: "
                f"{unknown_message('gpus', s.gpu_model, cat.gpus)}"
            )
    for o in cat.optics.values():
        for field in ("fiber", "far_end"):
            ref = getattr(o, field)
            if ref and ref not in cat.optics:
                out.append(
                    f"optic {o.model!r} ({cat.source_of('optics', o.model)}): {field}: "
                    f"{unknown_message('optics', ref, cat.optics)}"
                )
    return out


def entry_name(kind: str, row: dict) -> str:
    return str(row.get("name" if kind == "models" else "model", ""))


@dataclass(frozen=True)
class Layer:
    """One user catalog file: its entries by kind (rows as written), where it came from."""

    source: str  # the path as the user gave it (or as recorded in fabric.json)
    sha256: str
    entries: dict[str, tuple[dict, ...]]
    origin: str = "file"  # user-wide | cli | intent | factory | fabric

    @property
    def key(self) -> str:
        return f"{self.source}\0{self.sha256}"

    def to_json_obj(self) -> dict:
        return {"source": self.source, "sha256": self.sha256, "entries": {k: list(v) for k, v in self.entries.items() if v}}


class Catalog:
    """The catalog in force: shipped entries overlaid with the user layers, in order."""

    def __init__(
        self, items: dict[str, dict[str, Any]], origin: dict[tuple[str, str], str], notes: list[str], layers: tuple[Layer, ...]
    ):
        self.switches: dict[str, Switch] = items["switches"]
        self.nics: dict[str, Nic] = items["nics"]
        self.gpus: dict[str, Gpu] = items["gpus"]
        self.servers: dict[str, Server] = items["servers"]
        self.optics: dict[str, Optic] = items["optics"]
        self.models: dict[str, dict] = items["models"]  # raw rows; tokenfab.workload.models types them
        self.origin = origin  # (kind, name) -> "shipped" or the user file it came from
        self.notes = notes  # one line per user entry that overrides another
        self.layers = layers

    def get(self, kind: str, model: str, field: str | None = None):
        items: dict = getattr(self, kind)
        if model not in items:
            raise InputError(unknown_message(kind, model, items), field)
        return items[model]

    def source_of(self, kind: str, name: str) -> str:
        return self.origin.get((kind, name), "shipped")


def default_server(cat: Catalog, gpu_model: str, gpus: int) -> Server:
    """The server an intent gets without a server_model: one with its GPU model and count."""
    for m in cat.servers.values():
        if m.gpu_model == gpu_model and m.gpus == gpus:
            return m
    for m in cat.servers.values():
        if m.gpus == gpus:
            return m
    return next(iter(cat.servers.values()))


def unknown_message(kind: str, name: str, known) -> str:
    return (
        f"unknown {SINGULAR[kind]} model {name!r}; the catalog has: {', '.join(sorted(known))} "
        "(add your own in a catalog file: the intent's catalog list or --catalog)"
    )


@cache
def shipped_rows() -> dict[str, tuple[dict, ...]]:
    """The package's own entries, as rows."""
    out = {}
    for kind in KINDS:
        pkg, name = ("tokenfab.workload", "models.yaml") if kind == "models" else ("tokenfab.catalog", f"{kind}.yaml")
        out[kind] = tuple(yaml.safe_load(resources.files(pkg).joinpath("data", name).read_text())[kind])
    return out


@cache
def _shipped_items() -> dict[str, dict[str, Any]]:
    return {
        kind: {entry_name(kind, r): (r if kind == "models" else KINDS[kind].model_validate(r)) for r in rows}
        for kind, rows in shipped_rows().items()
    }


_CACHE: dict[tuple[str, ...], Catalog] = {}


def build_catalog(layers: tuple[Layer, ...]) -> Catalog:
    """Shipped entries overlaid with `layers` (already validated by tokenfab.catalog.files)."""
    key = tuple(layer.key for layer in layers)
    if key in _CACHE:
        return _CACHE[key]
    items = {kind: dict(v) for kind, v in _shipped_items().items()}
    origin: dict[tuple[str, str], str] = {}
    notes: list[str] = []
    for layer in layers:
        for kind, rows in layer.entries.items():
            for row in rows:
                name = entry_name(kind, row)
                if name in items[kind]:
                    was = origin.get((kind, name), "the shipped entry")
                    notes.append(f"catalog: {SINGULAR[kind]} {name!r} from {layer.source} overrides {was}")
                items[kind][name] = row if kind == "models" else KINDS[kind].model_validate(row)
                origin[(kind, name)] = layer.source
    cat = Catalog(items, origin, notes, layers)
    problems = reference_problems(cat)
    if problems:
        raise InputError("the catalog refers to entries it does not have:\n  " + "\n  ".join(problems))
    _CACHE[key] = cat
    return cat


_ACTIVE: contextvars.ContextVar[tuple[Layer, ...] | None] = contextvars.ContextVar("tokenfab_catalog", default=None)


def active_layers() -> tuple[Layer, ...]:
    """The user layers in force here: those set by use_catalog()/activate(), else the user-wide folder."""
    layers = _ACTIVE.get()
    if layers is None:
        from tokenfab.catalog.files import user_wide_layers

        layers = user_wide_layers()
    return layers


def activate(layers: tuple[Layer, ...]) -> None:
    """Make `layers` the catalog of this context from now on (a planned or loaded fabric's own)."""
    _ACTIVE.set(tuple(layers))


@contextlib.contextmanager
def use_catalog(layers: tuple[Layer, ...]) -> Iterator[Catalog]:
    """Within the block, load_catalog() is the shipped catalog overlaid with `layers`."""
    token = _ACTIVE.set(tuple(layers))
    try:
        yield build_catalog(tuple(layers))
    finally:
        _ACTIVE.reset(token)


def load_catalog(layers: tuple[Layer, ...] | None = None) -> Catalog:
    return build_catalog(active_layers() if layers is None else tuple(layers))


def per_catalog(fn):
    """Cache `fn(*args)` per catalog in force (a user file may redefine the model it looks up)."""
    import functools

    cached = functools.lru_cache(maxsize=None)(lambda _catalog_id, *args: fn(*args))

    @functools.wraps(fn)
    def wrapper(*args):
        return cached(id(load_catalog()), *args)

    wrapper.cache_clear = cached.cache_clear
    return wrapper
