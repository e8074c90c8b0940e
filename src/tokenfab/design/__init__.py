"""Intent -> Fabric: size candidate designs, keep the cheapest that meets the intent, then lay out
devices, links, addresses, racks and media. Pure: the same intent gives the same Fabric."""

from __future__ import annotations

import numpy as np

from tokenfab.catalog import Catalog, activate, load_catalog
from tokenfab.design import addressing, media, racks, topology
from tokenfab.design.contract import DesignSummary, Expectations
from tokenfab.design.model import Fabric, Table
from tokenfab.design.search import search as search_designs
from tokenfab.design.side import size_side
from tokenfab.design.sizing import Sizing
from tokenfab.intent import Intent

__all__ = ["design", "Fabric", "candidates", "search_designs"]


def candidates(intent: Intent, catalog: Catalog | None = None) -> list[tuple[Sizing, float]]:
    """Every design the intent allows that can be built, cheapest first, with its switch + optics cost."""
    result = search_designs(intent, catalog or load_catalog())
    # a feasible candidate was sized (search.evaluate sets intent and sizing before pricing)
    return [(c.sizing, c.cost_usd) for c in result.candidates if c.feasible and c.sizing is not None]


def design(intent: Intent, catalog: Catalog | None = None) -> Fabric:
    """The Fabric for `intent`, built with the catalog the intent was checked against (shipped +
    the user's files); the fabric records those files, and they become this context's catalog so
    the later stages (configure, simulate, factory) read the same entries."""
    catalog = catalog or load_catalog(intent.catalog_layers)
    activate(catalog.layers)
    f = intent.fabric
    result = search_designs(intent, catalog)
    best = result.best
    assert best.intent is not None and best.sizing is not None  # the best is feasible: sized
    sz = best.sizing
    reasons = list(result.notes)
    if f.architecture == "auto" and f.cross_rail == "network":
        reasons.append(
            f"{sz.architecture}: GPUs on different rails must reach each other through the network (fabric.cross_rail: network)"
        )
    elif sz.architecture == "rail-only":
        reasons.append("rail-only: cross-rail traffic may use NVLink (fabric.cross_rail: nvlink)")
    reasons += sz.notes
    reasons += catalog.notes  # user entries that override shipped ones
    if sz.architecture == "rail-optimized" and f.cross_rail == "nvlink" and f.architecture == "rail-optimized":
        reasons.append("rail-optimized although cross-rail traffic may use NVLink (asked for explicitly)")
    # The fabric carries the intent as resolved: every searched choice and auto-sized pool written in.
    intent, pool_notes = addressing.resolve_pools(best.intent, sz)
    reasons += pool_notes

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
    devices = Table(
        dict(
            name=dev["name"],
            role=dev["role"],
            model=model,
            hwsku=hwsku,
            platform=platform,
            plane=dev["plane"],
            pod=dev["pod"],
            su=dev["su"],
            rail=dev["rail"],
            group=dev["group"],
            asn=dcols["asn"],
            loopback=dcols["loopback"],
            mgmt=dcols["mgmt"],
            mac=dcols["mac"],
            rack=rack,
        )
    )
    L = sk.links
    links = Table(
        dict(
            kind=L["kind"],
            a=L["a"],
            a_port=L["a_port"],
            b=L["b"],
            b_port=L["b_port"],
            speed_gbps=L["speed_gbps"],
            plane=L["plane"],
            a_ip=lcols["a_ip"],
            b_ip=lcols["b_ip"],
            prefix_len=lcols["prefix_len"],
            length_m=length,
            medium=medium,
        )
    )
    ds = racks.domain_servers(intent, catalog)
    if ds > 1:
        reasons.append(
            f"{srv_model}: {ds} servers ({ds * intent.cluster.gpus_per_server} GPUs) share one scale-up "
            f"domain; {sz.servers // ds} domains, each in one rack; tensor-parallel traffic stays on NVLink"
        )
        if sz.servers_per_su % ds:
            reasons.append(
                f"scale-up domains of {ds} servers straddle scalable units of {sz.servers_per_su} servers "
                f"(a domain's trays reach two units' leaves); fabric.servers_per_su: a multiple of {ds} aligns them"
            )
    summary = _summary(intent, sz, catalog, reasons)
    if ds > 1:  # absent for one-server domains, so earlier plans stay byte-identical
        summary = summary.model_copy(update={"scaleup_domain_servers": ds})
    return Fabric(
        intent, summary, devices, links, Table(subnets), _expectations(sz, devices, links), catalog_layers=catalog.layers
    )


def _summary(intent: Intent, sz: Sizing, catalog: Catalog, reasons: list[str]) -> DesignSummary:
    c = intent.cluster
    tiers = {"leaf": sz.leaf, "spine": sz.spine, "core": sz.core}
    return DesignSummary.model_validate(
        {
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
                name: {
                    "model": t.model,
                    "down_ports": t.down_ports,
                    "down_speed_gbps": t.down_speed_gbps,
                    "down_breakout": t.down_mode.mode,
                    "up_ports": t.up_ports,
                    "up_speed_gbps": t.up_speed_gbps,
                    "up_breakout": t.up_mode.mode if t.up_mode else "",
                    "oversubscription": round(t.oversubscription, 3),
                }
                for name, t in tiers.items()
                if t is not None
            },
            "networks": {
                name: size_side(name, net, sz.servers, catalog)
                for name in ("frontend", "storage")
                if (net := getattr(intent, name)) is not None
            },
            "reasons": reasons,
        }
    )


def _expectations(sz: Sizing, devices: Table, links: Table) -> Expectations:
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
    return Expectations.model_validate(
        {
            "bgp_sessions": int((links["kind"] != "nic").sum()),
            "leaf_ecmp_links": {names[i]: int(up[i]) for i in leaves} if sz.tiers >= 2 else {},
            "spine_to_leaf_links": sz.leaf_spine_links,
            "reach_groups": groups,
            "unreachable_by_design": unreachable,
        }
    )
