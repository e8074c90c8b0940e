"""The hardware catalog: switches, NICs, GPUs, servers and optics as YAML data in the package.

Code never hard-codes a SKU's figures; it asks the catalog. Figures not taken from a datasheet or
an upstream file are marked as estimates in each item's `sources`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tokenfab.errors import InputError


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    model: str
    vendor: str = ""
    price_usd: float = 0.0
    power_w: float = 0.0
    sources: dict[str, str] = Field(default_factory=dict)


class BreakoutMode(BaseModel):
    model_config = ConfigDict(frozen=True)
    mode: str
    children: int
    speed_gbps: int


class PortMapEntry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    lanes: str
    alias: str = ""
    index: int = 0
    speed_gbps: int | None = None


class SonicPlatform(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    platform: str
    hwsku: str
    hwskus: dict[str, str] = Field(default_factory=dict)
    source: str = ""
    port_map: list[PortMapEntry]
    breakout_children: dict[str, list[int]] = Field(default_factory=dict)
    extra_ports: list[PortMapEntry] = Field(default_factory=list)
    fec_by_speed_gbps: dict[int, str] = Field(default_factory=dict)
    mtu: int = 9100
    lossless_headroom: dict | None = None
    buffer_pools: dict | None = None


class Switch(_Item):
    asic: str = ""
    kind: Literal["ethernet", "infiniband"] = "ethernet"
    ports: int
    port_speed_gbps: int
    lanes_per_port: int = 8
    breakout_modes: list[BreakoutMode]
    rack_units: int = 1
    latency_ns: float | None = None
    buffer_mb: float | None = None
    sonic: SonicPlatform | None = None

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
    speed_gbps: int
    ports: int = 1
    port_speeds_gbps: list[int] = Field(default_factory=list)


class Gpu(_Item):
    form: str = ""
    bf16_dense_tflops: float
    fp8_dense_tflops: float | None = None
    hbm_gb: float
    hbm_tbytes_per_s: float
    nvlink_gbytes_per_s_per_direction: float
    tdp_w: float
    price_usd_per_hour: float | None = None
    nvls: bool = False  # NVLink SHARP (in-switch all-reduce) inside the NVLink domain


class Server(_Item):
    gpus: int
    gpu_model: str
    rack_units: int = 8


class Optic(_Item):
    kind: Literal["dac", "aec", "aoc", "transceiver", "fiber"]
    speed_gbps: int
    reach_m: float = 0.0
    lengths_m: list[float] = Field(default_factory=list)
    ends: int = 1
    breakout: int = 1
    fiber: str | None = None  # the fibre item a transceiver link needs


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)
    switches: dict[str, Switch]
    nics: dict[str, Nic]
    gpus: dict[str, Gpu]
    servers: dict[str, Server]
    optics: dict[str, Optic]

    def get(self, kind: str, model: str, field: str | None = None):
        items: dict = getattr(self, kind)
        if model not in items:
            raise InputError(f"unknown {kind[:-1]} model {model!r}; the catalog has: {', '.join(sorted(items))}", field)
        return items[model]


def _load(name: str, key: str, cls: type[_Item]) -> dict:
    text = resources.files("tokenfab.catalog").joinpath("data", name).read_text()
    return {row["model"]: cls.model_validate(row) for row in yaml.safe_load(text)[key]}


@cache
def load_catalog() -> Catalog:
    return Catalog(
        switches=_load("switches.yaml", "switches", Switch),
        nics=_load("nics.yaml", "nics", Nic),
        gpus=_load("gpus.yaml", "gpus", Gpu),
        servers=_load("servers.yaml", "servers", Server),
        optics=_load("optics.yaml", "optics", Optic),
    )
