"""Intent -> Fabric: size candidate designs, keep the cheapest that meets the intent, then lay out
devices, links, addresses, racks and media. Pure: the same intent gives the same Fabric."""

from __future__ import annotations

import numpy as np

from tokenfab.catalog import Catalog, load_catalog
from tokenfab.design import addressing, media, racks, topology
from tokenfab.design.model import Fabric, Table
from tokenfab.design.side import size_side
from tokenfab.design.sizing import Sizing, size
from tokenfab.errors import InfeasibleError
from tokenfab.intent import Intent

__all__ = ["design", "Fabric", "candidates"]


def _switch_cost(intent: Intent, catalog: Catalog, sz: Sizing) -> float:
    """Switches plus switch-to-switch optics: enough to rank candidates (the BOM has the rest)."""
    def price(model: str) -> float:
        return intent.prices_usd.get(model, catalog.switches[model].price_usd)
    total = sz.leaves * sz.planes * price(sz.leaf.model)
    if sz.spine:
        total += sz.spines * sz.planes * price(sz.spine.model)
        o = media.choose(catalog, sz.leaf.up_speed_gbps, intent.fabric.cable_lengths.leaf_spine_m or 30.0)
        total += sz.leaves * sz.planes * sz.leaf.up_ports * (media.link_price(catalog, o) if o else 0)
    if sz.core:
        total += sz.cores * sz.planes * price(sz.core.model)
    return total


def candidates(intent: Intent, catalog: Catalog | None = None) -> list[tuple[Sizing, float]]:
    """Every architecture the intent allows that can be built, with its switch+optics cost."""
    catalog = catalog or load_catalog()
    f = intent.fabric
    if f.architecture == "auto":
        archs = ["rail-optimized"] + (["rail-only"] if f.cross_rail == "nvlink" else [])
    else:
        archs = [f.architecture]
    tiers = None if f.tiers == "auto" else int(f.tiers)
    out, errors = [], []
    for arch in archs:
        try:
            sz = size(intent, catalog, arch, tiers)
        except InfeasibleError as exc:
            errors.append(exc)
            continue
        out.append((sz, _switch_cost(intent, catalog, sz)))
    if not out:
        raise errors[0]
    return out


def design(intent: Intent, catalog: Catalog | None = None) -> Fabric:
    catalog = catalog or load_catalog()
    f = intent.fabric
    options = candidates(intent, catalog)
    sz, cost = min(options, key=lambda o: (o[1], o[0].architecture))
    reasons = list(sz.notes)
    if f.architecture == "auto":
        if len(options) > 1:
            other = [o for o in options if o[0] is not sz][0]
            reasons.insert(0, f"auto chose {sz.architecture}: ${cost:,.0f} in switches and optics vs "
                              f"${other[1]:,.0f} for {other[0].architecture}"
                              + (" (cross-rail traffic may use NVLink)" if sz.architecture == "rail-only" else ""))
        else:
            reasons.insert(0, f"auto chose {sz.architecture}: GPUs on different rails must reach each other "
                              "through the network (fabric.cross_rail: network)")
    if sz.architecture == "rail-optimized" and f.cross_rail == "nvlink" and f.architecture == "rail-optimized":
        reasons.append("rail-optimized although cross-rail traffic may use NVLink (asked for explicitly)")

    sk = topology.build(sz, catalog)
    dcols, lcols, subnets, notes = addressing.assign(intent, sz, sk)
    reasons += notes
    rack, length = racks.place(intent, catalog, sz, sk.dev, sk.links)
    medium = media.assign(catalog, sk.links["speed_gbps"], length)

    dev = sk.dev
    model = dev["model"]
    hwsku = np.full(len(model), "", dtype=object)
    platform = np.full(len(model), "", dtype=object)
    srv_model = racks.server_model(intent, catalog)
    model[dev["role"] == "server"] = srv_model
    for m in set(model[dev["role"] != "server"].tolist()):
        sonic = catalog.switches[m].sonic
        if sonic:
            hwsku[model == m], platform[model == m] = sonic.hwsku, sonic.platform
    devices = Table(dict(name=dev["name"], role=dev["role"], model=model, hwsku=hwsku, platform=platform,
                         plane=dev["plane"], pod=dev["pod"], su=dev["su"], rail=dev["rail"], group=dev["group"],
                         asn=dcols["asn"], loopback=dcols["loopback"], mgmt=dcols["mgmt"], mac=dcols["mac"], rack=rack))
    L = sk.links
    links = Table(dict(kind=L["kind"], a=L["a"], a_port=L["a_port"], b=L["b"], b_port=L["b_port"],
                       speed_gbps=L["speed_gbps"], plane=L["plane"], a_ip=lcols["a_ip"], b_ip=lcols["b_ip"],
                       prefix_len=lcols["prefix_len"], length_m=length, medium=medium))
    summary = _summary(intent, sz, catalog, reasons)
    return Fabric(intent, summary, devices, links, Table(subnets), _expectations(sz, devices, links))


def _summary(intent: Intent, sz: Sizing, catalog: Catalog, reasons: list[str]) -> dict:
    c = intent.cluster
    tiers = {"leaf": sz.leaf, "spine": sz.spine, "core": sz.core}
    return {
        "architecture": sz.architecture,
        "tiers": sz.tiers,
        "planes": sz.planes,
        "rails": sz.rails,
        "servers": sz.servers,
        "gpus": sz.servers * c.gpus_per_server,
        "gpu_model": c.gpu_model,
        "nic_model": c.nic_model,
        "link_speed_gbps": sz.link_speed_gbps,
        "servers_per_su": sz.servers_per_su,
        "scalable_units": sz.scalable_units,
        "scalable_units_max": sz.scalable_units_max,
        "sus_per_pod": sz.sus_per_pod,
        "pods": sz.pods,
        "pods_max": sz.pods_max,
        "leaves": sz.leaves * sz.planes,
        "spines": sz.spines * sz.planes,
        "cores": sz.cores * sz.planes,
        "spines_per_group": sz.spines_per_group,
        "leaf_spine_links": sz.leaf_spine_links,
        "cores_per_group": sz.cores_per_group,
        "spine_core_links": sz.spine_core_links,
        "tiers_detail": {
            name: {"model": t.model, "down_ports": t.down_ports, "down_speed_gbps": t.down_speed_gbps,
                   "down_breakout": t.down_mode.mode, "up_ports": t.up_ports, "up_speed_gbps": t.up_speed_gbps,
                   "up_breakout": t.up_mode.mode if t.up_mode else "", "oversubscription": round(t.oversubscription, 3)}
            for name, t in tiers.items() if t is not None},
        "networks": {name: size_side(name, net, sz.servers, catalog).as_dict()
                     for name in ("frontend", "storage") if (net := getattr(intent, name)) is not None},
        "reasons": reasons,
    }


def _expectations(sz: Sizing, devices: Table, links: Table) -> dict:
    """What the twin and validators check: sessions, ECMP widths in links, who reaches whom."""
    role = devices["role"]
    names = devices["name"]
    leaves = np.flatnonzero(role == "leaf")
    up = np.bincount(links["a"][links["kind"] == "leaf-spine"], minlength=len(role))
    groups: list[dict] = []
    if sz.tiers >= 2:
        for p in range(1, sz.planes + 1):
            in_plane = leaves[devices["plane"][leaves] == p]
            if sz.architecture == "rail-only":
                for r in range(1, sz.rails + 1):
                    members = in_plane[devices["rail"][in_plane] == r]
                    groups.append({"name": f"plane {p} rail {r}", "leaves": names[members].tolist()})
            else:
                groups.append({"name": f"plane {p}", "leaves": names[in_plane].tolist()})
    unreachable = []
    if sz.architecture == "rail-only":
        unreachable.append("leaves of different rails (or planes): by design, cross-rail traffic goes over the servers' NVLink")
    elif sz.planes > 1:
        unreachable.append("leaves of different planes: each plane is a separate fabric")
    return {
        "bgp_sessions": int((links["kind"] != "nic").sum()),
        "leaf_ecmp_links": {names[i]: int(up[i]) for i in leaves} if sz.tiers >= 2 else {},
        "spine_to_leaf_links": sz.leaf_spine_links,
        "reach_groups": groups,
        "unreachable_by_design": unreachable,
    }
