"""Racks and cable runs.

Floor model: each scalable unit is a row of server racks (filled under the per-rack power and
space budget) with its leaves in a network rack in the middle of the row. Spines stand in a row
in the middle of the rows they serve (of the pod, with three tiers); cores in the middle of the
hall. Rows are `row_pitch_m` apart. Cable length = horizontal run along the row + run across rows
+ vertical slack at both ends. An explicit `fabric.cable_lengths.*_m` replaces the computed run
for that tier."""

from __future__ import annotations

import math

import numpy as np

from tokenfab.catalog import Catalog, default_server
from tokenfab.design.sizing import Sizing
from tokenfab.errors import InfeasibleError
from tokenfab.intent import Intent

SLACK_M = 2.0  # up and down the racks at both ends, and patching


def server_model(intent: Intent, catalog: Catalog) -> str:
    c = intent.cluster
    return c.server_model or default_server(catalog, c.gpu_model, c.gpus_per_server).model


def domain_servers(intent: Intent, catalog: Catalog) -> int:
    """Servers per scale-up (NVLink) domain: 1 for an HGX box, 18 trays for an NVL72 rack."""
    return catalog.servers[server_model(intent, catalog)].scaleup_domain_servers


def servers_per_rack(intent: Intent, catalog: Catalog) -> int:
    """Servers one rack holds under its power and space budget; whole scale-up domains only
    (an NVL72 domain's trays share one rack's NVLink spine)."""
    srv = catalog.servers[server_model(intent, catalog)]
    power = intent.power_w.get(srv.model, srv.power_w)
    ds = srv.scaleup_domain_servers
    by_power = math.floor(intent.racks.power_budget_kw * 1000 / power) if power else 1 << 30
    by_space = (intent.racks.rack_units - 2) // srv.rack_units  # 2 U for patching / mgmt switch
    n = min(by_power, by_space)
    if ds > 1 and n < ds:
        raise InfeasibleError(
            f"one {srv.model} scale-up domain is {ds} servers: {ds * power / 1000:.1f} kW and {ds * srv.rack_units} U; "
            f"the rack budget is {intent.racks.power_budget_kw:g} kW and {intent.racks.rack_units - 2} U for servers "
            f"(raise racks.power_budget_kw to {math.ceil(ds * power / 1000)} or more)",
            "racks.power_budget_kw",
        )
    if n < 1:
        raise InfeasibleError(
            f"one {srv.model} draws {power:.0f} W; the rack budget is {intent.racks.power_budget_kw * 1000:.0f} W",
            "racks.power_budget_kw",
        )
    return n // ds * ds


def _split_switch_racks(intent: Intent, catalog: Catalog, dev: dict, rack: np.ndarray) -> None:
    """A switch group (one SU's leaves, one pod's spines, the cores) fills as many racks as its
    rack units and the rack power budget need: `net-su1`, or `net-pod1-1`, `net-pod1-2`, ..."""
    sw = np.flatnonzero(dev["role"] != "server")
    if not len(sw):
        return
    keys, inverse = np.unique(rack[sw].astype(str), return_inverse=True)
    for k in range(len(keys)):
        rows = sw[inverse == k]
        model = catalog.switches[dev["model"][rows[0]]]
        power = intent.power_w.get(model.model, model.power_w)
        per_rack = min(
            (intent.racks.rack_units - 2) // model.rack_units,
            int(intent.racks.power_budget_kw * 1000 // power) if power else 1 << 30,
        )
        if per_rack < 1:
            raise InfeasibleError(
                f"one {model.model} draws {power:.0f} W; the rack budget is {intent.racks.power_budget_kw * 1000:.0f} W",
                "racks.power_budget_kw",
            )
        if len(rows) > per_rack:
            rack[rows] = np.char.add(f"{keys[k]}-", (np.arange(len(rows)) // per_rack + 1).astype(str))


def place(intent: Intent, catalog: Catalog, sz: Sizing, dev: dict, links: dict) -> tuple[np.ndarray, np.ndarray]:
    """Returns (rack name per device, cable length in metres per link)."""
    role = dev["role"]
    rack = np.full(len(role), "", dtype=object)
    spr = servers_per_rack(intent, catalog)
    d = sz.servers_per_su
    racks_per_su = math.ceil(d / spr)
    srv = role == "server"
    i = dev["role_index"][srv]
    su, pos_in_su = i // d, i % d
    rack_in_su = pos_in_su // spr
    rack[srv] = np.char.add("rack-", (su * racks_per_su + rack_in_su + 1).astype(str))
    ds = domain_servers(intent, catalog)
    if ds > 1 and d % ds:
        # scale-up domains straddle scalable units: rack them by domain so a domain never splits
        rack[srv] = np.char.add("rack-", (i // spr + 1).astype(str))
    leaf = role == "leaf"
    rack[leaf] = np.char.add("net-su", dev["su"][leaf].astype(str))
    spine = role == "spine"
    if sz.architecture == "rail-only":
        rack[spine] = np.char.add("net-rail", dev["rail"][spine].astype(str))
    elif sz.tiers == 3:
        rack[spine] = np.char.add("net-pod", dev["pod"][spine].astype(str))
    else:
        rack[spine] = "net-spine"
    rack[role == "core"] = "net-core"
    _split_switch_racks(intent, catalog, dev, rack)

    L = intent.fabric.cable_lengths
    w, pitch = intent.racks.rack_width_m, intent.racks.row_pitch_m
    length = np.zeros(len(links["kind"]))
    kind = links["kind"]
    row = _rows(sz, dev)
    half_row = racks_per_su / 2 * w  # from a row's end to its middle
    nic = kind == "nic"
    srv_rack = (dev["role_index"][links["a"][nic]] % d) // spr
    length[nic] = L.server_leaf_m or np.abs(srv_rack + 0.5 - racks_per_su / 2) * w + SLACK_M
    for k, fixed in (("leaf-spine", L.leaf_spine_m), ("spine-core", L.spine_core_m)):
        m = kind == k
        across = np.abs(row[links["a"][m]] - row[links["b"][m]]) * pitch
        length[m] = fixed or across + half_row + SLACK_M
    return rack, np.round(length, 1)


def _rows(sz: Sizing, dev: dict) -> np.ndarray:
    """Floor row (metres / pitch) of every switch: SU s is row s; spines and cores sit mid-way."""
    role = dev["role"]
    row = np.zeros(len(role))
    leaf, spine = role == "leaf", role == "spine"
    row[leaf] = dev["su"][leaf] - 1
    if sz.tiers == 3:
        row[spine] = (dev["pod"][spine] - 1) * sz.sus_per_pod + (sz.sus_per_pod - 1) / 2
        row[role == "core"] = (sz.pods_max * sz.sus_per_pod - 1) / 2
    else:
        row[spine] = (sz.scalable_units_max - 1) / 2
    return row
