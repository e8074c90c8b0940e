"""Sizing -> devices and links: who connects to whom, on which SONiC port.

Rails: NIC k of every server goes to the rail-k leaf of its scalable unit ("NIC N to Leaf N").
Numbers in names and tables are 1-based, as operators count; 0 means "does not apply".
Every index that feeds a name, address or ASN is a function of stable coordinates (plane, pod,
scalable unit, rail, position), so a larger version of the same factory keeps what exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokenfab.catalog import Catalog, Switch
from tokenfab.design.sizing import Sizing, TierPorts


@dataclass
class Skeleton:
    """Devices and links without addresses: arrays, one entry per item."""

    dev: dict[str, np.ndarray]  # name, role, model, plane, pod, su, rail, group, role_index
    links: dict[str, np.ndarray]  # kind, a, a_port, b, b_port, speed_gbps, plane, slot (address index)


def _ports(sw: Switch, tp: TierPorts, down: bool) -> list[str]:
    """Port names of the downlinks (first cages) or uplinks (last cages) in order."""
    mode = tp.down_mode if down else tp.up_mode
    assert mode is not None, f"{tp.model} has no uplinks"
    first = 0 if down else sw.ports - tp.up_cages
    n = tp.down_ports if down else tp.up_ports
    return [sw.port_name(first + i // mode.children, i % mode.children, mode) for i in range(n)]


def _plane_tag(plane: np.ndarray, planes: int) -> np.ndarray:
    return np.char.add("-p", (plane).astype(str)) if planes > 1 else np.full(len(plane), "", dtype=object)


def build(sz: Sizing, catalog: Catalog) -> Skeleton:
    P, R, S, d = sz.planes, sz.rails, sz.servers, sz.servers_per_su
    sus = sz.scalable_units
    leaf_sw = catalog.switches[sz.leaf.model]

    # ---- leaves: ordered (plane, su, rail); a shared leaf takes every rail (rail column 0)
    n_leaf = sz.leaves
    plane_l = np.repeat(np.arange(P), n_leaf)
    if sz.shared_leaf:
        su_l, rail_l = np.zeros(P, dtype=np.int64), np.full(P, -1)
        leaf_idx = plane_l.copy()
    else:
        su_l = np.tile(np.repeat(np.arange(sus), R), P)
        rail_l = np.tile(np.arange(R), sus * P)
        leaf_idx = (su_l * R + rail_l) * P + plane_l
    pod_l = su_l // sz.sus_per_pod if sz.tiers == 3 else np.zeros_like(su_l)
    tag = _plane_tag(plane_l + 1, P)
    if sz.shared_leaf:
        leaf_name = np.char.add(np.char.add("leaf", tag.astype(str)), "-1")
    else:
        leaf_name = np.char.add(
            np.char.add(np.char.add(np.char.add("leaf", tag.astype(str)), "-r"), (rail_l + 1).astype(str)),
            np.char.add("-", (su_l + 1).astype(str)),
        )

    names = [leaf_name.astype(object)]
    roles = [np.full(len(leaf_name), "leaf", dtype=object)]
    models = [np.full(len(leaf_name), sz.leaf.model, dtype=object)]
    planes, pods, su_col = [plane_l + 1], [pod_l + (sz.architecture == "rail-optimized")], [su_l + 1]
    rails, groups, role_idx = [rail_l + 1], [np.zeros_like(su_l)], [leaf_idx]

    link_parts: list[dict[str, np.ndarray]] = []
    n_spine = n_core = 0
    if sz.tiers >= 2:
        assert sz.spine is not None  # sizing gives every design of two or more tiers its spines
        spine_sw = catalog.switches[sz.spine.model]
        k, ns = sz.leaf_spine_links, sz.spines_per_group
        if sz.architecture == "rail-only":
            n_groups, group_of_leaf, pos_in_group = R, rail_l, su_l
        elif sz.tiers == 3:
            n_groups, group_of_leaf = sz.pods, pod_l
            pos_in_group = (su_l % sz.sus_per_pod) * R + rail_l
        else:
            n_groups, group_of_leaf, pos_in_group = 1, np.zeros_like(su_l), su_l * R + rail_l
        # spines ordered (plane, group, j)
        n_spine = n_groups * ns
        plane_s = np.repeat(np.arange(P), n_spine)
        g_s = np.tile(np.repeat(np.arange(n_groups), ns), P)
        j_s = np.tile(np.arange(ns), n_groups * P)
        tag_s = _plane_tag(plane_s + 1, P).astype(str)
        if sz.architecture == "rail-only":
            mid = np.char.add(np.char.add("-r", (g_s + 1).astype(str)), "-")
        elif sz.tiers == 3:
            mid = np.char.add(np.char.add("-", (g_s + 1).astype(str)), "-")
        else:
            mid = np.full(len(g_s), "-")
        spine_name = np.char.add(np.char.add(np.char.add("spine", tag_s), mid), (j_s + 1).astype(str))
        names.append(spine_name.astype(object))
        roles.append(np.full(n_spine * P, "spine", dtype=object))
        models.append(np.full(n_spine * P, sz.spine.model, dtype=object))
        planes.append(plane_s + 1)
        pods.append(g_s + 1 if sz.tiers == 3 else np.full(len(g_s), int(sz.architecture == "rail-optimized")))
        su_col.append(np.zeros_like(g_s))
        rails.append(g_s + 1 if sz.architecture == "rail-only" else np.zeros_like(g_s))
        groups.append(g_s * P + plane_s + 1)
        role_idx.append((g_s * ns + j_s) * P + plane_s)

        # leaf -> spine links: uplink j of a leaf goes to spine j // k of its group
        leaf_rows = np.arange(len(leaf_name))
        up_names = np.array(_ports(leaf_sw, sz.leaf, down=False), dtype=object)
        sp_down = np.array(_ports(spine_sw, sz.spine, down=True), dtype=object)
        u = sz.leaf.up_ports
        lr = np.repeat(leaf_rows, u)
        j = np.tile(np.arange(u), len(leaf_rows))
        spine_row = len(leaf_name) + (plane_l[lr] * n_groups + group_of_leaf[lr]) * ns + j // k
        spine_port = pos_in_group[lr] * k + j % k
        link_parts.append(
            dict(
                kind=np.full(len(lr), "leaf-spine", dtype=object),
                a=lr,
                a_port=up_names[j],
                b=spine_row,
                b_port=sp_down[spine_port],
                speed_gbps=np.full(len(lr), sz.leaf.up_speed_gbps),
                plane=plane_l[lr] + 1,
                slot=leaf_idx[lr] * u + j,
            )
        )

    if sz.tiers == 3:
        assert sz.spine is not None and sz.core is not None
        core_sw = catalog.switches[sz.core.model]
        c, kc, ns = sz.cores_per_group, sz.spine_core_links, sz.spines_per_group
        n_core = ns * c
        plane_c = np.repeat(np.arange(P), n_core)
        cidx = np.tile(np.arange(n_core), P)
        tag_c = _plane_tag(plane_c + 1, P).astype(str)
        core_name = np.char.add(np.char.add(np.char.add("core", tag_c), "-"), (cidx + 1).astype(str))
        names.append(core_name.astype(object))
        roles.append(np.full(len(core_name), "core", dtype=object))
        models.append(np.full(len(core_name), sz.core.model, dtype=object))
        planes.append(plane_c + 1)
        pods.append(np.zeros_like(cidx))
        su_col.append(np.zeros_like(cidx))
        rails.append(np.zeros_like(cidx))
        groups.append(np.zeros_like(cidx))
        role_idx.append(cidx * P + plane_c)

        spine_first = len(leaf_name)
        us = sz.spine.up_ports
        sp_up = np.array(_ports(spine_sw, sz.spine, down=False), dtype=object)
        core_down = np.array(_ports(core_sw, sz.core, down=True), dtype=object)
        sr = np.repeat(np.arange(n_spine * P), us)
        t = np.tile(np.arange(us), n_spine * P)
        pod_s, j_of_s = g_s[sr], j_s[sr]
        core_row = spine_first + n_spine * P + plane_s[sr] * n_core + j_of_s * c + t // kc
        link_parts.append(
            dict(
                kind=np.full(len(sr), "spine-core", dtype=object),
                a=spine_first + sr,
                a_port=sp_up[t],
                b=core_row,
                b_port=core_down[pod_s * kc + t % kc],
                speed_gbps=np.full(len(sr), sz.spine.up_speed_gbps),
                plane=plane_s[sr] + 1,
                slot=role_idx[1][sr] * us + t,
            )
        )

    # ---- servers and NIC links
    first_server = sum(len(n) for n in names)
    srv = np.arange(S)
    names.append(np.char.add("srv-", (srv + 1).astype(str)).astype(object))
    roles.append(np.full(S, "server", dtype=object))
    models.append(np.full(S, "", dtype=object))
    planes.append(np.zeros(S, dtype=np.int64))
    srv_su = srv // d
    pods.append(srv_su // sz.sus_per_pod + 1 if sz.tiers == 3 else np.full(S, int(sz.architecture == "rail-optimized")))
    su_col.append(srv_su + 1)
    rails.append(np.zeros(S, dtype=np.int64))
    groups.append(np.zeros(S, dtype=np.int64))
    role_idx.append(srv)

    leaf_down = np.array(_ports(leaf_sw, sz.leaf, down=True), dtype=object)
    # order (server, nic, plane)
    si = np.repeat(srv, R * P)
    k_nic = np.tile(np.repeat(np.arange(R), P), S)
    p_nic = np.tile(np.arange(P), S * R)
    if sz.shared_leaf:
        # a server's NICs sit on adjacent ports; each rail keeps its own subnet on the switch
        h = si * R + k_nic
        leaf_row = p_nic
        subnet = leaf_idx[leaf_row] * R + k_nic
        host = si
    else:
        h = si % d
        leaf_row = p_nic * n_leaf + (si // d) * R + k_nic
        subnet, host = leaf_idx[leaf_row], si % d
    nic_name = np.char.add("nic", (k_nic + 1).astype(str))
    if P > 1:
        nic_name = np.char.add(np.char.add(nic_name, "p"), (p_nic + 1).astype(str))
    link_parts.insert(
        0,
        dict(
            kind=np.full(len(si), "nic", dtype=object),
            a=first_server + si,
            a_port=nic_name.astype(object),
            b=leaf_row,
            b_port=leaf_down[h],
            speed_gbps=np.full(len(si), sz.link_speed_gbps),
            plane=p_nic + 1,
            slot=subnet * d + host,
        ),
    )

    dev = dict(
        name=np.concatenate(names),
        role=np.concatenate(roles),
        model=np.concatenate(models),
        plane=np.concatenate(planes),
        pod=np.concatenate(pods),
        su=np.concatenate(su_col),
        rail=np.concatenate(rails),
        group=np.concatenate(groups),
        role_index=np.concatenate(role_idx),
    )
    links = {key: np.concatenate([p[key] for p in link_parts]) for key in link_parts[0]}
    return Skeleton(dev, links)
