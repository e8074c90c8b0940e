"""What the twin should show, from the plan: with nothing failed, exactly the plan's
`expectations`; with links or switches failed, what eBGP must converge to without them.

The degraded case is a small path-vector computation over the booted switches: per destination
leaf, every switch keeps the shortest AS paths its live links offer (dropping paths that already
hold its own AS, as BGP does), and a leaf's ECMP width is the number of live links that carry
such a shortest path (parallel links are separate sessions, so they count separately; multipath
relax makes equal-length paths through different ASes equal). Pure Python: twins are small.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from tokenfab.twin.layout import Layout

BY_DESIGN = "by design: "  # the reason of every absence the plan itself wants


@dataclass
class Expected:
    established: set[tuple[str, str]]  # (host, peer ip) sessions that must be Established
    down: set[tuple[str, str]]  # sessions on failed links or switches
    # (leaf, prefix) -> (ecmp width, destination leaf, what the prefix is)
    routes: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)
    absent: dict[tuple[str, str], str] = field(default_factory=dict)  # (leaf, prefix) -> reason
    sessions_planned: int = 0
    width_planned: dict[str, int] = field(default_factory=dict)
    failed_devices: set[str] = field(default_factory=set)
    failed_wires: set[int] = field(default_factory=set)  # fabric link rows


def leaf_prefixes(layout: Layout) -> dict[str, list[tuple[str, str]]]:
    """leaf -> [(prefix, label)]: its loopback and server subnets, as planned."""
    f = layout.fabric
    names = f.devices["name"]
    out: dict[str, list[tuple[str, str]]] = {}
    for d in f.iter_devices("leaf"):
        if d.name in layout.nodes:
            out[d.name] = [(f"{d.loopback}/32", f"{d.name} loopback")]
    for leaf, prefix in zip(f.subnets["leaf"].tolist(), f.subnets["prefix"].tolist()):
        if names[leaf] in out:
            out[names[leaf]].append((prefix, f"{names[leaf]} servers"))
    if f.intent.addressing.server_links == "p31":
        # no VLAN subnets: each NIC has a /31 on its leaf, and configure advertises those
        for link in f.iter_links("nic"):
            if link.b in out:
                net = ipaddress.IPv4Interface(f"{link.b_ip}/{link.prefix_len}").network
                out[link.b].append((str(net), f"{link.b} {link.a}:{link.a_port}"))
    return out


def widths(layout: Layout, dead_wires: set[int], dead_nodes: set[str]) -> dict[str, dict[str, int]]:
    """width[src leaf][dst leaf] = number of live links carrying a shortest valid AS path."""
    nodes = {h: n for h, n in layout.nodes.items() if n.is_switch and h not in dead_nodes}
    adj: dict[str, list[str]] = {h: [] for h in nodes}
    for w in layout.wires:
        if w.kind == "nic" or w.row in dead_wires or w.a not in nodes or w.b not in nodes:
            continue
        adj[w.a].append(w.b)
        adj[w.b].append(w.a)
    leaves = [h for h, n in nodes.items() if n.role == "leaf"]
    out: dict[str, dict[str, int]] = {s: {} for s in leaves}
    for dst in leaves:
        path: dict[str, tuple[int, ...]] = {dst: (nodes[dst].asn,)}
        changed = True
        while changed:
            changed = False
            for h in nodes:
                if h == dst:
                    continue
                own = nodes[h].asn
                offers = [path[x] for x in adj[h] if x in path and own not in path[x]]
                best = (own,) + min(offers, key=lambda p: (len(p), p)) if offers else None
                if best != path.get(h):
                    if best is None:
                        path.pop(h)
                    else:
                        path[h] = best
                    changed = True
        for src in leaves:
            if src == dst or src not in path:
                continue
            length = len(path[src]) - 1
            own = nodes[src].asn
            out[src][dst] = sum(1 for x in adj[src] if x in path and own not in path[x] and len(path[x]) == length)
    return out


def expected(layout: Layout, failures: list[dict]) -> Expected:
    f = layout.fabric
    exp = f.expectations
    dead_nodes = {d for fl in failures for d in fl.get("devices", [])}
    dead_wires = {r for fl in failures for r in fl.get("links", [])}
    # a failed switch takes all its links down (soft) or stops answering on them (hard)
    for w in layout.wires:
        if w.a in dead_nodes or w.b in dead_nodes:
            dead_wires.add(w.row)
    e = Expected(
        set(),
        set(),
        sessions_planned=exp.bgp_sessions,
        width_planned=dict(exp.leaf_ecmp_links),
        failed_devices=dead_nodes,
        failed_wires=dead_wires,
    )
    for host, nb, wire in layout.sessions():
        key = (host, nb.peer_ip)
        if host in dead_nodes or (wire is not None and wire.row in dead_wires):
            e.down.add(key)
        else:
            e.established.add(key)

    prefixes = leaf_prefixes(layout)
    group_of: dict[str, str] = {}
    for g in exp.get("reach_groups", []):
        for leaf in g["leaves"]:
            group_of[leaf] = g["name"]
    intact = not dead_wires and not dead_nodes
    live = None if intact else widths(layout, dead_wires, dead_nodes)
    for src in prefixes:
        if src in dead_nodes:
            continue
        for dst, items in prefixes.items():
            if dst == src:
                continue
            same = src in group_of and group_of.get(dst) == group_of[src]
            for prefix, label in items:
                if not same:
                    e.absent[(src, prefix)] = BY_DESIGN + (exp.get("unreachable_by_design") or ["different reach groups"])[0]
                    continue
                width = e.width_planned.get(src, 0) if live is None else live[src].get(dst, 0)
                if width:
                    e.routes[(src, prefix)] = (width, dst, label)
                else:
                    e.absent[(src, prefix)] = f"{dst} is failed" if dst in dead_nodes else f"no live path to {dst}"
    return e
