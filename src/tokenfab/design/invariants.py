"""Rules every design keeps. `check(fabric)` lists violations (empty when sound); plan runs it on
every fabric it makes, and the tests run it on generated intents."""

from __future__ import annotations

import numpy as np

from tokenfab.catalog import load_catalog
from tokenfab.design.model import Fabric


def _dupes(values) -> list:
    v, n = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return [x for x, c in zip(v.tolist(), n.tolist()) if c > 1 and x != ""]


def check(f: Fabric) -> list[str]:
    out: list[str] = []
    D, L = f.devices, f.links
    names, role = D["name"], D["role"]
    cat = load_catalog(f.catalog_layers)
    d = f.design

    if dup := _dupes(names):
        out.append(f"device names used twice: {dup[:5]}")
    # every NIC cabled once, to a leaf of its own rail
    nic = L["kind"] == "nic"
    servers = int((role == "server").sum())
    want = servers * d.rails * d.planes
    if int(nic.sum()) != want:
        out.append(f"{int(nic.sum())} NIC links for {want} NIC ports")
    ends = np.char.add(np.char.add(names[L["a"][nic]].astype(str), ":"), L["a_port"][nic].astype(str))
    if dup := _dupes(ends):
        out.append(f"NIC ports cabled twice: {dup[:5]}")
    nic_rail = np.char.replace(np.char.partition(L["a_port"][nic].astype(str), "p")[:, 0], "nic", "").astype(int)
    leaf_rail = D["rail"][L["b"][nic]]  # 0: a single switch that takes every rail
    if (D["role"][L["b"][nic]] != "leaf").any() or ((leaf_rail != nic_rail) & (leaf_rail != 0)).any():
        out.append("a NIC is cabled to a leaf of another rail")
    # no port used twice
    a_ends = np.char.add(np.char.add(names[L["a"]].astype(str), ":"), L["a_port"].astype(str))
    b_ends = np.char.add(np.char.add(names[L["b"]].astype(str), ":"), L["b_port"].astype(str))
    if dup := _dupes(np.concatenate([a_ends, b_ends])):
        out.append(f"ports used twice: {dup[:5]}")
    # port budgets: bandwidth used per switch within its capacity; oversubscription per leaf
    bw_down = np.bincount(L["b"], weights=L["speed_gbps"], minlength=len(names))
    bw_up = np.bincount(L["a"], weights=L["speed_gbps"], minlength=len(names))
    for i in np.flatnonzero(role != "server"):
        sw = cat.switches[D["model"][i]]
        cap = sw.ports * sw.port_speed_gbps
        if bw_down[i] + bw_up[i] > cap:
            out.append(f"{names[i]} uses {bw_down[i] + bw_up[i]:.0f} Gb/s of {cap} Gb/s")
    tiers = d.tiers_detail
    for r in tiers:
        m = np.flatnonzero(role == r)
        has_up = bw_up[m] > 0
        if has_up.any():
            ratio = bw_down[m][has_up] / bw_up[m][has_up]
            limit = getattr(f.intent.fabric, r).oversubscription
            if (ratio > limit + 1e-9).any():
                out.append(f"{r} oversubscription {ratio.max():.2f}:1 exceeds {limit}:1")
    # rail-only: no switch joins two rails
    if d.architecture == "rail-only":
        sw_links = L["kind"] != "nic"
        if (D["rail"][L["a"][sw_links]] != D["rail"][L["b"][sw_links]]).any():
            out.append("rail-only design has a switch joining two rails")
    # links between two switches spread evenly
    ls = L["kind"] == "leaf-spine"
    if ls.any():
        pairs, n = np.unique(np.stack([L["a"][ls], L["b"][ls]]), axis=1, return_counts=True)
        if len(set(n.tolist())) > 1:
            out.append(f"leaf-spine links uneven: {sorted(set(n.tolist()))} links per pair")
    # unique addresses
    sw_mask = role != "server"
    for col in ("loopback", "mgmt", "mac"):
        if dup := _dupes(D[col][sw_mask]):
            out.append(f"{col} used twice: {dup[:5]}")
    p2p = L["prefix_len"] == 31
    if dup := _dupes(np.concatenate([L["a_ip"][p2p], L["b_ip"][p2p], L["a_ip"][nic & ~p2p], D["loopback"][sw_mask]])):
        out.append(f"addresses used twice: {dup[:5]}")
    # ASN rules (RFC 7938)
    leaf = role == "leaf"
    if dup := _dupes(D["asn"][leaf].astype(str)):
        out.append(f"leaf ASNs repeat: {dup[:5]}")
    spine = role == "spine"
    if f.intent.addressing.asn.spine == "per-group":
        for g in np.unique(D["group"][spine]):
            if len(np.unique(D["asn"][spine & (D["group"] == g)])) != 1:
                out.append(f"spine group {g} has more than one ASN")
    if len(np.unique(D["asn"][role == "core"])) > 1:
        out.append("core switches have more than one ASN")
    if np.intersect1d(D["asn"][leaf], D["asn"][spine | (role == "core")]).size:
        out.append("a leaf shares its ASN with a spine or core")
    return out
