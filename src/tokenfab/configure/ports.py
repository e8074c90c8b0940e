"""Front-panel ports from the platform's own files (the catalog's `sonic` block) and the plan's breakouts.

A cage (one `port_map` entry, 0-based like the Asterfusion index) runs in one breakout mode. Child
c of a cage is named Ethernet<parent number + offset c> (`breakout_children`), keeps the parent's
index and takes the parent's lanes from that offset on. Names are not always the first lane, and
lanes may repeat across a platform's port names, so nothing here derives one from the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenfab.catalog import BreakoutMode, Switch, load_catalog, per_catalog
from tokenfab.errors import InputError


@dataclass(frozen=True)
class PortSpec:
    name: str
    parent: str  # the cage's port name (BREAKOUT_CFG key)
    cage: int  # 0-based position in the platform's port map
    child: int  # 0-based child number within the cage's breakout
    lanes: str
    alias: str
    index: int
    speed_gbps: int
    mode: str  # breakout mode of the cage; "" for ports outside the breakout scheme


def _sonic(sw: Switch):
    if sw.sonic is None:
        raise InputError(f"switch model {sw.model} has no SONiC platform data in the catalog; configure needs one")
    return sw.sonic


def cage_ports(sw: Switch, cage: int, mode: BreakoutMode) -> list[PortSpec]:
    """The ports a cage presents in `mode`."""
    return list(_cage_ports(sw.model, cage, mode.mode))


@per_catalog
def _cage_ports(model: str, cage: int, mode_name: str) -> tuple[PortSpec, ...]:
    sw = load_catalog().switches[model]
    mode = mode_named(sw, mode_name)
    assert mode is not None  # cage_ports passes one of the switch's own modes
    sonic = _sonic(sw)
    parent = sonic.port_map[cage]
    lanes = parent.lanes.split(",")
    offsets = sonic.breakout_children.get(mode.mode)
    if offsets is None:
        step = sw.lanes_per_port // mode.children
        offsets = [c * step for c in range(mode.children)]
    width = offsets[1] - offsets[0] if len(offsets) > 1 else len(lanes)
    base = int(parent.name.removeprefix("Ethernet"))
    out = []
    for c, off in enumerate(offsets):
        alias = parent.alias if len(offsets) == 1 else f"{parent.alias}/{c + 1}"
        out.append(
            PortSpec(
                f"Ethernet{base + off}",
                parent.name,
                cage,
                c,
                ",".join(lanes[off : off + width]),
                alias,
                parent.index,
                mode.speed_gbps,
                mode.mode,
            )
        )
    return tuple(out)


def mode_named(sw: Switch, name: str) -> BreakoutMode | None:
    return next((m for m in sw.breakout_modes if m.mode == name), None)


def layout(sw: Switch, cabled: dict[str, int], preferred: list[str], device: str) -> tuple[list[PortSpec], dict[str, str]]:
    """Every port of the switch and the breakout mode per cage.

    cabled: port name -> link speed (Gb/s); preferred: breakout modes to try first (the tier's).
    Cages without a cabled port stay in the platform's first (native) mode."""
    sonic = _sonic(sw)
    where = _where(sw.model, tuple(preferred))
    cage_mode: dict[int, BreakoutMode] = {}
    for name, speed in sorted(cabled.items()):
        hit = where.get((name, speed))
        if hit is None:
            raise InputError(
                f"{device}: port {name} at {speed}G is not a port of a {sw.model} in any breakout mode "
                f"({', '.join(m.mode for m in sw.breakout_modes)})"
            )
        cage, mode = hit
        if cage_mode.setdefault(cage, mode) != mode:
            raise InputError(
                f"{device}: cage {sonic.port_map[cage].name} would need two breakout modes "
                f"({cage_mode[cage].mode} and {mode.mode}) for its cabled ports"
            )
    ports: list[PortSpec] = []
    breakout: dict[str, str] = {}
    for cage, parent in enumerate(sonic.port_map):
        mode = cage_mode.get(cage, sw.breakout_modes[0])
        breakout[parent.name] = mode.mode
        ports.extend(cage_ports(sw, cage, mode))
    for extra in sonic.extra_ports:
        ports.append(PortSpec(extra.name, "", -1, 0, extra.lanes, extra.alias, extra.index, extra.speed_gbps or 0, ""))
    return ports, breakout


@per_catalog
def _where(model: str, preferred: tuple[str, ...]) -> dict[tuple[str, int], tuple[int, BreakoutMode]]:
    """(port name, speed) -> (cage, mode), trying the preferred modes first."""
    sw = load_catalog().switches[model]
    modes = [m for m in (mode_named(sw, p) for p in preferred) if m] + list(sw.breakout_modes)
    where: dict[tuple[str, int], tuple[int, BreakoutMode]] = {}
    for mode in modes:
        for cage in range(len(_sonic(sw).port_map)):
            for p in cage_ports(sw, cage, mode):
                where.setdefault((p.name, mode.speed_gbps), (cage, mode))
    return where


def expected_ports(sw: Switch, breakout: dict[str, str]) -> dict[str, PortSpec]:
    """The platform's ports under a BREAKOUT_CFG (parent -> mode); unknown parents or modes are skipped
    (the caller reports them)."""
    sonic = _sonic(sw)
    out: dict[str, PortSpec] = {}
    for cage, parent in enumerate(sonic.port_map):
        mode = mode_named(sw, breakout.get(parent.name, "")) or sw.breakout_modes[0]
        for p in cage_ports(sw, cage, mode):
            out[p.name] = p
    for extra in sonic.extra_ports:
        out[extra.name] = PortSpec(extra.name, "", -1, 0, extra.lanes, extra.alias, extra.index, extra.speed_gbps or 0, "")
    return out
