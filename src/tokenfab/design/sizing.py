"""Folded-Clos arithmetic: how many switches of each tier, how their ports split, how links spread.

Everything here works on counts only (no devices yet), so `auto` can size several candidate
designs cheaply and keep the cheapest. Counts are per plane: planes are identical copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenfab.catalog import BreakoutMode, Catalog, Switch
from tokenfab.errors import InfeasibleError, InputError
from tokenfab.intent import Intent, Tier


@dataclass(frozen=True)
class TierPorts:
    """How one switch of a tier splits its cages into downlinks and uplinks."""

    model: str
    down_mode: BreakoutMode
    up_mode: BreakoutMode | None
    down_ports: int  # logical ports (after breakout) facing down
    up_ports: int
    down_cages: int
    up_cages: int

    @property
    def down_speed_gbps(self) -> int:
        return self.down_mode.speed_gbps

    @property
    def up_speed_gbps(self) -> int:
        return self.up_mode.speed_gbps if self.up_mode else 0

    @property
    def oversubscription(self) -> float:
        if not self.up_ports:
            return 1.0
        return self.down_ports * self.down_speed_gbps / (self.up_ports * self.up_speed_gbps)


@dataclass(frozen=True)
class Sizing:
    architecture: str  # rail-only | rail-optimized
    tiers: int
    planes: int
    rails: int
    servers: int
    servers_max: int
    link_speed_gbps: int  # NIC port speed per plane
    leaf: TierPorts
    spine: TierPorts | None
    core: TierPorts | None
    servers_per_su: int  # servers under one leaf of each rail
    scalable_units: int  # present now
    scalable_units_max: int  # sized for (growth)
    sus_per_pod: int = 0  # 3-tier only
    pods: int = 0
    pods_max: int = 0
    spines_per_group: int = 0  # per scope: plane (2-tier), pod (3-tier) or rail (rail-only)
    leaf_spine_links: int = 0  # parallel links between a leaf and each spine of its group
    cores_per_group: int = 0  # core group j joins spine j of every pod
    spine_core_links: int = 0
    notes: list[str] = field(default_factory=list)
    shared_leaf: bool = False  # one switch per plane takes every rail (small clusters)

    @property
    def leaves(self) -> int:
        return 1 if self.shared_leaf else self.scalable_units * self.rails

    @property
    def subnets_per_leaf(self) -> int:
        return self.rails if self.shared_leaf else 1

    @property
    def spine_groups(self) -> int:
        if self.tiers < 2:
            return 0
        if self.architecture == "rail-only":
            return self.rails
        return self.pods if self.tiers == 3 else 1

    @property
    def spines(self) -> int:
        return self.spine_groups * self.spines_per_group

    @property
    def cores(self) -> int:
        return self.spines_per_group * self.cores_per_group if self.tiers == 3 else 0

    @property
    def switches(self) -> int:
        return (self.leaves + self.spines + self.cores) * self.planes


def _ceil(a: int, b: int) -> int:
    """ceil(a / b) in integers: counts stay exact at any size (a float quotient would print 1e27
    pods as 3906250000000000077674315776)."""
    return -(-a // b)


def find_mode(switch: Switch, wanted: str) -> BreakoutMode | None:
    """A breakout mode as people write it (`4x200G`, `800G`) or by SONiC's name (`4x200G[100G]`)."""
    w = wanted.strip().upper().replace(" ", "")
    if "X" not in w.split("[")[0]:
        w = "1X" + w
    for m in switch.breakout_modes:
        if m.mode.upper() == w or m.mode.split("[")[0].upper() == w:
            return m
    return None


def _mode(switch: Switch, speed_gbps: int, wanted: str | None, field: str) -> BreakoutMode:
    if wanted:
        m = find_mode(switch, wanted)
        if m is not None:
            return m
        accepted = ", ".join(f"{m.mode.split('[')[0]} ({m.mode})" for m in switch.breakout_modes)
        raise InputError(f"{switch.model} has no breakout mode {wanted!r}; it offers {accepted}", field)
    mode = switch.mode_for_speed(speed_gbps)
    if mode is None:
        speeds = ", ".join(f"{m.speed_gbps}G ({m.mode})" for m in switch.breakout_modes)
        raise InfeasibleError(f"{switch.model} cannot run ports at {speed_gbps}G; its breakout modes give {speeds}", field)
    return mode


def split_ports(switch: Switch, down: BreakoutMode, up: BreakoutMode | None, ratio: float) -> TierPorts:
    """The most downlinks a switch can offer while keeping down:up bandwidth <= ratio."""
    if up is None:
        return TierPorts(switch.model, down, None, switch.ports * down.children, 0, switch.ports, 0)
    for down_cages in range(switch.ports - 1, 0, -1):
        d = down_cages * down.children
        up_ports = math.ceil(d * down.speed_gbps / (ratio * up.speed_gbps) - 1e-9)
        up_cages = _ceil(up_ports, up.children)
        if down_cages + up_cages <= switch.ports:
            return TierPorts(switch.model, down, up, d, up_ports, down_cages, up_cages)
    raise InfeasibleError(f"{switch.model} cannot give oversubscription {ratio}:1 with {switch.ports} ports")


def _spread(members: int, uplinks: int, capacity: int, count: int | None) -> int | None:
    """Fewest upper switches n such that each member spreads `uplinks` evenly over all n
    (n divides uplinks) and each upper switch has room for members * uplinks / n links."""
    if count is not None:
        ok = uplinks % count == 0 and members * (uplinks // count) <= capacity
        return count if ok else None
    for n in range(1, uplinks + 1):
        if uplinks % n == 0 and members * (uplinks // n) <= capacity:
            return n
    return None


def size(intent: Intent, catalog: Catalog, architecture: str, tiers: int | None) -> Sizing:
    """Size one candidate design. `tiers=None` takes the fewest tiers that fit."""
    c, f = intent.cluster, intent.fabric
    nic = catalog.nics[c.nic_model]
    if c.planes == "auto":
        raise InputError(
            "planes: auto is resolved by the design search (tokenfab.design.search), not by one sizing", "cluster.planes"
        )
    link_speed = (c.nic_speed_gbps or nic.speed_gbps) // c.planes
    rails = intent.nics_per_server
    servers_max = max(f.max_servers or c.servers, c.servers)

    def switch_of(tier: Tier, name: str) -> Switch:
        model = tier.switch_model or f.switch_model
        if isinstance(model, list):
            raise InputError(
                "a list of switch models is searched by tokenfab.design.search, not by one sizing", f"fabric.{name}.switch_model"
            )
        return catalog.get("switches", model, f"fabric.{name}.switch_model")

    leaf_sw = switch_of(f.leaf, "leaf")
    down = _mode(leaf_sw, link_speed, f.leaf.downlink_breakout, "fabric.leaf.downlink_breakout")
    if down.speed_gbps != link_speed:
        raise InfeasibleError(
            f"leaf downlinks at {down.speed_gbps}G ({down.mode}) do not match the NICs' {link_speed}G",
            "fabric.leaf.downlink_breakout",
        )
    leaf_one_tier = split_ports(leaf_sw, down, None, 1.0)
    notes: list[str] = []

    if architecture == "rail-only":
        # Each rail (and plane) is its own fabric: one leaf if it fits, else a leaf-spine of its own.
        if tiers in (None, 1) and servers_max <= leaf_one_tier.down_ports and f.servers_per_su is None:
            return Sizing(
                "rail-only",
                1,
                c.planes,
                rails,
                c.servers,
                servers_max,
                link_speed,
                leaf_one_tier,
                None,
                None,
                servers_per_su=leaf_one_tier.down_ports,
                scalable_units=1,
                scalable_units_max=1,
                notes=[f"each rail fits one {leaf_sw.model} ({servers_max} of {leaf_one_tier.down_ports} ports)"],
            )
        if tiers == 1:
            raise InfeasibleError(
                f"rail-only in one tier needs {servers_max} ports per rail leaf, a {leaf_sw.model} has {leaf_one_tier.down_ports} "
                f"at {link_speed}G",
                "fabric.tiers",
            )
        if tiers == 3:
            raise InfeasibleError(
                "rail-only designs have one or two tiers per rail; ask for rail-optimized for three tiers", "fabric.tiers"
            )
        tiers = 2

    if (
        architecture == "rail-optimized"
        and tiers in (None, 1)
        and f.servers_per_su is None
        and servers_max * rails <= leaf_one_tier.down_ports
    ):
        # Every rail fits one switch: it joins the rails by itself, no spine layer needed.
        return Sizing(
            "rail-optimized",
            1,
            c.planes,
            rails,
            c.servers,
            servers_max,
            link_speed,
            leaf_one_tier,
            None,
            None,
            servers_per_su=servers_max,
            scalable_units=1,
            scalable_units_max=1,
            shared_leaf=True,
            notes=[
                f"all {servers_max * rails} NIC ports fit one {leaf_sw.model} per plane "
                f"({leaf_one_tier.down_ports} x {link_speed}G): a single switch joins the rails"
            ],
        )
    if architecture == "rail-optimized" and tiers == 1:
        raise InfeasibleError(
            f"one tier needs {servers_max * rails} ports ({servers_max} servers x {rails} rails); "
            f"a {leaf_sw.model} has {leaf_one_tier.down_ports} at {link_speed}G",
            "fabric.tiers",
        )

    up_sw = switch_of(f.spine, "spine")
    up_mode = (
        _mode(leaf_sw, 0, f.leaf.uplink_breakout, "fabric.leaf.uplink_breakout")
        if f.leaf.uplink_breakout
        else _native(leaf_sw, up_sw)
    )
    leaf = split_ports(leaf_sw, down, up_mode, f.leaf.oversubscription)
    d = f.servers_per_su or leaf.down_ports
    if d > leaf.down_ports:
        raise InfeasibleError(
            f"{d} servers per scalable unit need {d} leaf downlinks; "
            f"a {leaf_sw.model} at {f.leaf.oversubscription}:1 has {leaf.down_ports}",
            "fabric.servers_per_su",
        )
    sus = _ceil(c.servers, d)
    sus_max = _ceil(servers_max, d)
    spine_down_mode = _mode(up_sw, leaf.up_speed_gbps, f.spine.downlink_breakout, "fabric.spine.downlink_breakout")
    spine_flat = split_ports(up_sw, spine_down_mode, None, 1.0)
    members = sus_max if architecture == "rail-only" else sus_max * rails  # leaves under one spine group

    if tiers in (None, 2):
        best = _best_two_tier(
            intent, catalog, leaf_sw, up_sw, leaf, spine_flat, servers_max, rails, architecture == "rail-only", f.servers_per_su
        )
        if best is not None:
            leaf2, d2, n = best
            sus2, sus2_max = _ceil(c.servers, d2), _ceil(servers_max, d2)
            members2 = sus2_max if architecture == "rail-only" else sus2_max * rails
            notes.append(
                f"{members2} leaves per spine group fit {spine_flat.down_ports}-port spines in two tiers; "
                f"{d2} servers per scalable unit and {leaf2.up_ports} uplinks per leaf give the fewest switches and optics"
            )
            if f.spine.oversubscription != 1.0 or f.spine.uplink_breakout:
                notes.append("spine oversubscription and uplink breakout apply only with three tiers: ignored")
            return Sizing(
                architecture,
                2,
                c.planes,
                rails,
                c.servers,
                servers_max,
                link_speed,
                leaf2,
                spine_flat,
                None,
                servers_per_su=d2,
                scalable_units=sus2,
                scalable_units_max=sus2_max,
                spines_per_group=n,
                leaf_spine_links=leaf2.up_ports // n,
                notes=notes,
            )
        if tiers == 2 or architecture == "rail-only":
            why = (
                f"{f.spine.count} spines cannot take {leaf.up_ports} uplinks from each of {members} leaves"
                if f.spine.count
                else f"a two-tier Clos of {up_sw.model} spines holds at most {spine_flat.down_ports} leaves "
                f"({spine_flat.down_ports} ports at {leaf.up_speed_gbps}G, one link per leaf); this design needs {members}"
            )
            raise InfeasibleError(why, "fabric.tiers")

    # Three tiers: pods of scalable units under a core layer.
    core_sw = switch_of(f.core, "core")
    spine_up_mode = (
        _mode(up_sw, 0, f.spine.uplink_breakout, "fabric.spine.uplink_breakout")
        if f.spine.uplink_breakout
        else _native(up_sw, core_sw)
    )
    spine = split_ports(up_sw, spine_down_mode, spine_up_mode, f.spine.oversubscription)
    spines_per_pod = f.spine.count or leaf.up_ports  # one link from each leaf to each spine of its pod
    if leaf.up_ports % spines_per_pod:
        raise InfeasibleError(
            f"{spines_per_pod} spines per pod do not divide a leaf's {leaf.up_ports} uplinks", "fabric.spine.count"
        )
    k_ls = leaf.up_ports // spines_per_pod
    sus_per_pod = spine.down_ports // (k_ls * rails)
    if sus_per_pod < 1:
        raise InfeasibleError(
            f"a pod spine has {spine.down_ports} downlinks; "
            f"one scalable unit needs {k_ls * rails} ({rails} rail leaves x {k_ls} links)"
        )
    pods = _ceil(sus, sus_per_pod)
    pods_max = _ceil(sus_max, sus_per_pod)
    core_ports = split_ports(
        core_sw, _mode(core_sw, spine.up_speed_gbps, f.core.downlink_breakout, "fabric.core.downlink_breakout"), None, 1.0
    )
    c_per = _spread(pods_max, spine.up_ports, core_ports.down_ports, f.core.count)
    if c_per is None:
        raise InfeasibleError(
            f"{pods_max:,} pods x {spine.up_ports} uplinks per spine exceed a core group of {core_sw.model} "
            f"({core_ports.down_ports} ports at {spine.up_speed_gbps}G); at most {core_ports.down_ports} pods fit",
            "fabric.tiers",
        )
    notes.append(
        f"{members} leaves exceed a two-tier Clos ({spine_flat.down_ports} per spine group): "
        f"{pods} pods of {sus_per_pod} scalable units under {spines_per_pod * c_per} core switches"
    )
    return Sizing(
        architecture,
        3,
        c.planes,
        rails,
        c.servers,
        servers_max,
        link_speed,
        leaf,
        spine,
        core_ports,
        servers_per_su=d,
        scalable_units=sus,
        scalable_units_max=sus_max,
        sus_per_pod=sus_per_pod,
        pods=pods,
        pods_max=pods_max,
        spines_per_group=spines_per_pod,
        leaf_spine_links=k_ls,
        cores_per_group=c_per,
        spine_core_links=spine.up_ports // c_per,
        notes=notes,
    )


def _best_two_tier(
    intent: Intent,
    catalog: Catalog,
    leaf_sw: Switch,
    spine_sw: Switch,
    leaf: TierPorts,
    spine: TierPorts,
    servers_max: int,
    rails: int,
    rail_only: bool,
    fixed_d: int | None,
) -> tuple[TierPorts, int, int] | None:
    """Servers per scalable unit and uplinks per leaf for the cheapest two-tier design.

    Filling every leaf is not always cheapest: an odd uplink count spreads badly over spines, and
    one server too many adds a whole scalable unit. Try each split (servers per unit d, uplinks u
    within the leaf's cages and the oversubscription limit) and keep the one with the lowest
    switch + optics cost; ties go to fuller leaves and fewer uplinks."""
    from tokenfab.design.media import choose, link_price

    f = intent.fabric
    price = lambda m: intent.prices_usd.get(m, catalog.switches[m].price_usd)  # noqa: E731
    optic = choose(catalog, leaf.up_speed_gbps, f.cable_lengths.leaf_spine_m or 30.0)
    optic_usd = link_price(catalog, optic) if optic else 0.0
    assert leaf.up_mode is not None  # the leaf was split with an uplink mode (_mode or _native)
    b_d, b_u = leaf.down_mode.children, leaf.up_mode.children
    ratio = f.leaf.oversubscription
    groups = rails if rail_only else 1
    best, best_key = None, None
    d_range = [fixed_d] if fixed_d else range(leaf.down_ports, max(1, leaf.down_ports // 2) - 1, -1)
    for d in d_range:
        if d > min(leaf.down_ports, servers_max) and d != leaf.down_ports and not fixed_d:
            continue  # more ports than servers: only the full leaf is worth listing
        sus = _ceil(servers_max, d)
        members = sus if rail_only else sus * rails
        u_min = math.ceil(d * leaf.down_speed_gbps / (ratio * leaf.up_speed_gbps) - 1e-9)
        u_max = (leaf_sw.ports - _ceil(d, b_d)) * b_u
        for u in range(max(u_min, 1), u_max + 1):
            n = _spread(members, u, spine.down_ports, f.spine.count)
            if n is None:
                continue
            leaves = members * groups
            cost = leaves * price(leaf_sw.model) + n * groups * price(spine_sw.model) + leaves * u * optic_usd
            key = (round(cost, 2), -d, u)
            if best_key is None or key < best_key:
                best_key = key
                best = (TierPorts(leaf.model, leaf.down_mode, leaf.up_mode, d, u, _ceil(d, b_d), _ceil(u, b_u)), d, n)
    return best


def _native(lower: Switch, upper: Switch) -> BreakoutMode:
    """Uplinks run at the highest speed both ends support, unbroken where possible."""
    for speed in sorted({m.speed_gbps for m in lower.breakout_modes}, reverse=True):
        if upper.mode_for_speed(speed) and (mode := lower.mode_for_speed(speed)):
            return mode
    raise InfeasibleError(f"{lower.model} and {upper.model} share no port speed")
