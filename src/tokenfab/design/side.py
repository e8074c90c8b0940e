"""Frontend and storage networks: each a two-tier Clos of its own, sized by endpoint count and
oversubscription. Their figures (switches, links, bandwidth) go into the plan's summary, the BOM
counts their parts, and the factory reads the storage network's bandwidth."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tokenfab.catalog import Catalog
from tokenfab.design import media
from tokenfab.errors import InfeasibleError
from tokenfab.intent import SideNetwork


@dataclass(frozen=True)
class SideFabric:
    name: str  # frontend | storage
    switch_model: str
    speed_gbps: int
    endpoints: int  # server NIC ports + storage node ports
    server_ports: int
    storage_ports: int
    leaves: int
    spines: int
    down_per_leaf: int
    up_per_leaf: int
    endpoint_optic: str
    uplink_optic: str
    oversubscription: float
    # what crosses the spines when every endpoint sends: the bottleneck for storage traffic
    bisection_gbps: float
    storage_gbps: float  # the storage nodes' own ports

    def as_dict(self) -> dict:
        return asdict(self)


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
        leaves = math.ceil(endpoints / down)
        spines = math.ceil(leaves * up / radix)
        if leaves > radix:
            raise InfeasibleError(f"{endpoints} endpoints need {leaves} leaves; a two-tier {sw.model} network holds {radix}", name)
    end = media.choose(catalog, net.speed_gbps, 5.0)
    upl = media.choose(catalog, net.speed_gbps, 30.0)
    bisection = (leaves * up * net.speed_gbps) if spines else endpoints * net.speed_gbps
    return SideFabric(name, sw.model, net.speed_gbps, endpoints, server_ports, storage_ports, leaves, spines, down, up,
                      end.model if end else "", upl.model if upl else "", net.oversubscription, float(bisection),
                      float(storage_ports * net.speed_gbps))
