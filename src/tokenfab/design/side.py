"""Frontend and storage networks: each a two-tier Clos of its own, sized by endpoint count and
oversubscription. Their figures (switches, links, bandwidth) go into the plan's summary, the BOM
counts their parts, and the factory reads the storage network's bandwidth."""

from __future__ import annotations

import math

from tokenfab.catalog import Catalog
from tokenfab.design import media
from tokenfab.design.contract import SideFabric
from tokenfab.errors import InfeasibleError
from tokenfab.intent import SideNetwork


def size_side(name: str, net: SideNetwork, servers: int, catalog: Catalog) -> SideFabric:
    sw = catalog.get("switches", net.switch_model, f"{name}.switch_model")
    mode = sw.mode_for_speed(net.speed_gbps)
    if mode is None:
        speeds = ", ".join(f"{m.speed_gbps}G" for m in sw.breakout_modes)
        raise InfeasibleError(f"{sw.model} cannot run {net.speed_gbps}G ports; it offers {speeds}", f"{name}.speed_gbps")
    radix = sw.ports * mode.children
    server_ports = servers * net.nics_per_server
    storage_ports = net.storage_nodes * net.storage_node_links
    endpoints = server_ports + storage_ports
    if endpoints <= radix:
        leaves, spines, down, up = 1, 0, endpoints, 0
    else:
        down = math.floor(radix * net.oversubscription / (1 + net.oversubscription))
        up = radix - down
        leaves = -(-endpoints // down)
        spines = -(-leaves * up // radix)
        if leaves > radix:
            raise InfeasibleError(
                f"{endpoints} endpoints need {leaves} leaves; a two-tier {sw.model} network holds {radix}", name
            )
    end = media.choose(catalog, net.speed_gbps, 5.0)
    upl = media.choose(catalog, net.speed_gbps, 30.0)
    bisection = (leaves * up * net.speed_gbps) if spines else endpoints * net.speed_gbps
    return SideFabric(
        name=name,
        switch_model=sw.model,
        speed_gbps=net.speed_gbps,
        endpoints=endpoints,
        server_ports=server_ports,
        storage_ports=storage_ports,
        leaves=leaves,
        spines=spines,
        down_per_leaf=down,
        up_per_leaf=up,
        endpoint_optic=end.model if end else "",
        uplink_optic=upl.model if upl else "",
        oversubscription=net.oversubscription,
        bisection_gbps=float(bisection),
        storage_gbps=float(storage_ports * net.speed_gbps),
    )
