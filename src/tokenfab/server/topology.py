"""The topology as the browser draws it: groups that expand on click, and one device's panel.

A fabric of 32,768 GPUs has ~10,000 devices and ~65,000 links: too many to draw and to read. The
view starts collapsed: each pod (three tiers) and each scalable unit is one node, spines and cores
are shown one by one when a pod has few of them and as a group otherwise, planes are kept apart. Expanding a unit shows its
leaves (coloured by rail) and one node for its servers; expanding that shows the servers. Links
between the visible nodes are aggregated (count, bandwidth), and a link that a simulation failed
marks its edge as failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tokenfab.design.model import Fabric

INDIVIDUAL_MAX = 64  # spines/cores of one pod and plane drawn one by one up to this many
SERVERS_MAX = 128  # servers of one unit drawn one by one up to this many


def _group_ids(f: Fabric, expanded: set[str]) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """The visible node of every device (its own name, or its group's id) and the group nodes."""
    d = f.devices
    role, plane, pod, su = d["role"], d["plane"].astype(int), d["pod"].astype(int), d["su"].astype(int)
    name = d["name"].astype(object)
    vis = name.copy()
    groups: dict[str, dict[str, Any]] = {}
    planes = int(f.design.get("planes", 1) or 1)

    def group(gid: str, label: str, kind: str, members: np.ndarray, **extra: Any) -> None:
        vis[members] = gid
        groups[gid] = {"id": gid, "label": label, "kind": kind, "members": int(members.sum()), "expandable": True, **extra}

    # scalable units: leaves and servers (leaves of every plane sit in their unit)
    for u in np.unique(su[(role == "leaf") | (role == "server")]):
        in_su = su == u
        leaves, servers = in_su & (role == "leaf"), in_su & (role == "server")
        uid = f"su-{u}"
        if uid not in expanded:
            group(uid, f"unit {u}: {int(leaves.sum())} leaves, {int(servers.sum())} servers", "su", leaves | servers, su=int(u))
            continue
        sid = f"su-{u}/servers"
        if sid not in expanded or servers.sum() > SERVERS_MAX:
            group(
                sid,
                f"unit {u}: {int(servers.sum())} servers",
                "servers",
                servers,
                su=int(u),
                expandable=bool(servers.sum() <= SERVERS_MAX),
            )
    # spines and cores, per plane and pod
    for r in ("spine", "core"):
        sel = role == r
        if not sel.any():
            continue
        keys = np.unique(np.stack([plane[sel], pod[sel] if r == "spine" else np.zeros(sel.sum(), int)]), axis=1)
        for p, q in keys.T:
            members = sel & (plane == p) & ((pod == q) if r == "spine" else True)
            gid = f"{r}s" + (f"-p{p}" if planes > 1 else "") + (f"-pod{q}" if q else "")
            if members.sum() > INDIVIDUAL_MAX and gid not in expanded:
                where = (f" plane {p}" if planes > 1 else "") + (f" pod {q}" if q else "")
                group(gid, f"{int(members.sum())} {r}s{where}", r, members, plane=int(p))
    # pods (three tiers): one node per pod until expanded
    if int(f.design.get("pods", 1) or 1) > 1:
        for q in np.unique(pod[pod > 0]):
            pid = f"pod-{q}"
            if pid in expanded:
                continue
            members = (pod == q) & (role != "core")
            n = {r: int((members & (role == r)).sum()) for r in ("spine", "leaf", "server")}
            group(pid, f"pod {q}: {n['spine']} spines, {n['leaf']} leaves, {n['server']} servers", "pod", members, pod=int(q))
    return vis, groups


def view(f: Fabric, expanded: set[str], failed_links: set[str] | None = None) -> dict[str, Any]:
    """Nodes and aggregated edges for cytoscape.js (elements JSON)."""
    d, L = f.devices, f.links
    vis, groups = _group_ids(f, expanded)
    a, b = L["a"].astype(int), L["b"].astype(int)  # device rows
    nodes: list[dict[str, Any]] = []
    shown = set(vis.tolist())
    for i in np.flatnonzero(vis == d["name"].astype(object)):
        nodes.append(
            {
                "data": {
                    "id": str(d["name"][i]),
                    "label": str(d["name"][i]),
                    "kind": str(d["role"][i]),
                    "rail": int(d["rail"][i]),
                    "plane": int(d["plane"][i]),
                    "model": str(d["model"][i]),
                }
            }
        )
    for gid, g in groups.items():
        if gid in shown:
            nodes.append({"data": {**g, "group": True}})
    # aggregate links between visible nodes
    va, vb = vis[a], vis[b]
    failed = np.zeros(len(L), bool)
    if failed_links:
        dn = d["name"].astype(str)
        names = [f"{dn[x]}:{pa}--{dn[y]}:{pb}" for x, pa, y, pb in zip(a, L["a_port"], b, L["b_port"])]
        failed = np.isin(np.array(names, dtype=object), list(failed_links))
    keep = va != vb
    pairs: dict[tuple[str, str], list] = {}
    speeds = L["speed_gbps"].astype(float)
    rails = d["rail"].astype(int)
    for i in np.flatnonzero(keep):
        k = (va[i], vb[i])
        e = pairs.get(k)
        if e is None:
            e = pairs[k] = [0, 0.0, 0, str(L["kind"][i]), set()]
        e[0] += 1
        e[1] += speeds[i]
        e[2] += int(failed[i])
        r = rails[b[i]] if d["role"][b[i]] == "leaf" else rails[a[i]]
        e[4].add(int(r))
    edges = []
    for (x, y), (n, gbps, nfail, kind, rs) in sorted(pairs.items()):
        edges.append(
            {
                "data": {
                    "id": f"{x}~{y}",
                    "source": x,
                    "target": y,
                    "links": n,
                    "gbps": gbps,
                    "kind": kind,
                    "failed": nfail,
                    "rail": min(rs) if len(rs) == 1 else 0,
                    "label": f"{n} x {int(gbps / n)}G" + (f", {nfail} down" if nfail else ""),
                }
            }
        )
    return {"nodes": nodes, "edges": edges, "devices": len(d), "links": len(L), "rails": int(f.design.get("rails", 0) or 0)}


def device_panel(f: Fabric, plan_dir: Path, name: str) -> dict[str, Any]:
    """One device: its figures, ports and links, addresses, BGP sessions and generated configs."""
    dev = f.device(name)
    ports = []
    for link in f.links_of(name):
        here_a = link.a == name
        ports.append(
            {
                "port": link.a_port if here_a else link.b_port,
                "peer": link.b if here_a else link.a,
                "peer_port": link.b_port if here_a else link.a_port,
                "speed_gbps": int(link.speed_gbps),
                "kind": link.kind,
                "ip": (link.a_ip if here_a else link.b_ip) or "",
                "peer_ip": (link.b_ip if here_a else link.a_ip) or "",
                "length_m": round(float(link.length_m), 1),
                "medium": link.medium,
            }
        )
    ports.sort(key=lambda p: (len(p["port"]), p["port"]))
    out: dict[str, Any] = {
        "device": {k: (v.item() if hasattr(v, "item") else v) for k, v in dev.__dict__.items()},
        "ports": ports,
        "bgp": [],
        "files": {},
    }
    cfg_dir = plan_dir / "configs" / name
    cfg = cfg_dir / "config_db.json"
    if cfg.exists():
        text = cfg.read_text()
        out["files"]["config_db.json"] = text
        db = json.loads(text)
        for key, n in sorted(db.get("BGP_NEIGHBOR", {}).items()):
            out["bgp"].append(
                {"neighbor": key.split("|")[-1], "asn": n.get("asn"), "name": n.get("name"), "local_addr": n.get("local_addr")}
            )
    if (cfg_dir / "frr.conf").exists():
        out["files"]["frr.conf"] = (cfg_dir / "frr.conf").read_text()
    if not out["bgp"] and dev.role != "server":  # not configured yet: the sessions the plan implies
        for p in ports:
            if p["peer_ip"] and p["kind"] != "nic":
                peer = f.device(p["peer"])
                out["bgp"].append({"neighbor": p["peer_ip"], "asn": int(peer.asn), "name": p["peer"], "local_addr": p["ip"]})
    return out
