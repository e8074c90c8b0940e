"""Racks and cable runs: servers fill racks under a per-rack power budget, each scalable unit's
leaves sit in a network rack in the middle of its row, spines and cores in their own rows.
Cable length = horizontal run between racks + vertical slack at both ends."""

from __future__ import annotations

import math

import numpy as np

from tokenfab.catalog import Catalog
from tokenfab.design.sizing import Sizing
from tokenfab.errors import InfeasibleError
from tokenfab.intent import Intent

SLACK_M = 2.0  # up and down the racks at both ends, and patching


def server_model(intent: Intent, catalog: Catalog) -> str:
    c = intent.cluster
    if c.server_model:
        return c.server_model
    for m in catalog.servers.values():
        if m.gpu_model == c.gpu_model and m.gpus == c.gpus_per_server:
            return m.model
    for m in catalog.servers.values():
        if m.gpus == c.gpus_per_server:
            return m.model
    return next(iter(catalog.servers))


def servers_per_rack(intent: Intent, catalog: Catalog) -> int:
    srv = catalog.servers[server_model(intent, catalog)]
    power = intent.power_w.get(srv.model, srv.power_w)
    by_power = math.floor(intent.racks.power_budget_kw * 1000 / power) if power else 1 << 30
    by_space = (intent.racks.rack_units - 2) // srv.rack_units  # 2 U for patching / mgmt switch
    n = min(by_power, by_space)
    if n < 1:
        raise InfeasibleError(f"one {srv.model} draws {power:.0f} W; the rack budget is {intent.racks.power_budget_kw * 1000:.0f} W",
                              "racks.power_budget_kw")
    return n


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
        per_rack = min((intent.racks.rack_units - 2) // model.rack_units,
                       int(intent.racks.power_budget_kw * 1000 // power) if power else 1 << 30)
        if per_rack < 1:
            raise InfeasibleError(f"one {model.model} draws {power:.0f} W; the rack budget is "
                                  f"{intent.racks.power_budget_kw * 1000:.0f} W", "racks.power_budget_kw")
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
    w = intent.racks.rack_width_m
    length = np.zeros(len(links["kind"]))
    kind = links["kind"]
    nic = kind == "nic"
    # network rack stands in the middle of its scalable unit's row
    srv_rack = (dev["role_index"][links["a"][nic]] % d) // spr
    mid = racks_per_su / 2
    length[nic] = np.maximum(L.server_leaf_m, np.abs(srv_rack + 0.5 - mid) * w + SLACK_M)
    length[kind == "leaf-spine"] = L.leaf_spine_m
    length[kind == "spine-core"] = L.spine_core_m
    return rack, np.round(length, 1)
