"""Stand-in for `tokenfab configure` while it is being built: writes, per switch, a minimal
config_db.json and a bgpcfgd-style frr.conf, only to exercise the twin's mechanics."""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path

from tokenfab.design.model import Fabric


def write(fabric: Fabric, out: Path, keepalive_s: int = 3, holdtime_s: int = 9) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "fabric.json").write_text(fabric.dumps())
    dbs: dict[str, dict] = {}
    for d in fabric.iter_devices():
        if d.role == "server":
            continue
        dbs[d.name] = {
            "DEVICE_METADATA": {"localhost": {"hostname": d.name, "bgp_asn": str(d.asn), "bgp_router_id": d.loopback}},
            "PORT": {}, "INTERFACE": {}, "BGP_NEIGHBOR": {},
            "LOOPBACK_INTERFACE": {"Loopback0": {}, f"Loopback0|{d.loopback}/32": {}},
        }
    asn = {d.name: d.asn for d in fabric.iter_devices()}
    for link in fabric.iter_links():
        if link.kind == "nic":
            db = dbs[link.b]
            db["PORT"][link.b_port] = {"mtu": "9100", "admin_status": "up"}
            continue
        for me, port, ip, peer, peer_ip in ((link.a, link.a_port, link.a_ip, link.b, link.b_ip),
                                            (link.b, link.b_port, link.b_ip, link.a, link.a_ip)):
            db = dbs[me]
            db["PORT"][port] = {"mtu": "9100", "admin_status": "up"}
            db["INTERFACE"][port] = {}
            db["INTERFACE"][f"{port}|{ip}/{link.prefix_len}"] = {}
            db["BGP_NEIGHBOR"][peer_ip] = {"asn": str(asn[peer]), "name": peer, "local_addr": ip,
                                          "holdtime": str(holdtime_s), "keepalive": str(keepalive_s)}
    names = fabric.devices["name"]
    for leaf, vlan, prefix, gw in zip(fabric.subnets["leaf"].tolist(), fabric.subnets["vlan"].tolist(),
                                      fabric.subnets["prefix"].tolist(), fabric.subnets["gateway"].tolist()):
        db = dbs[names[leaf]]
        plen = prefix.split("/")[1]
        db.setdefault("VLAN", {})[f"Vlan{vlan}"] = {"vlanid": str(vlan), "mtu": "9100"}
        db.setdefault("VLAN_INTERFACE", {})[f"Vlan{vlan}"] = {}
        db["VLAN_INTERFACE"][f"Vlan{vlan}|{gw}/{plen}"] = {}
        members = db.setdefault("VLAN_MEMBER", {})
        for link in fabric.links_of(names[leaf]):
            if link.kind == "nic":
                members[f"Vlan{vlan}|{link.b_port}"] = {"tagging_mode": "untagged"}
    cfg = out / "configs"
    shutil.rmtree(cfg, ignore_errors=True)
    for host, db in dbs.items():
        (cfg / host).mkdir(parents=True)
        (cfg / host / "config_db.json").write_text(json.dumps(db, indent=1, sort_keys=True))
        (cfg / host / "frr.conf").write_text(frr_conf(db))
    return out


def frr_conf(db: dict) -> str:
    meta = db["DEVICE_METADATA"]["localhost"]
    nets = [k.split("|")[1] for k in db["LOOPBACK_INTERFACE"] if "|" in k]
    for k in db.get("VLAN_INTERFACE", {}):
        if "|" in k:
            nets.append(str(ipaddress.IPv4Interface(k.split("|")[1]).network))
    lines = [f"hostname {meta['hostname']}", "ip forwarding", "!",
             f"router bgp {meta['bgp_asn']}", " bgp log-neighbor-changes", " no bgp default ipv4-unicast",
             " no bgp ebgp-requires-policy", " bgp bestpath as-path multipath-relax",
             f" bgp router-id {meta['bgp_router_id']}"]
    for ip, nb in sorted(db["BGP_NEIGHBOR"].items()):
        lines += [f" neighbor {ip} remote-as {nb['asn']}", f" neighbor {ip} description {nb['name']}",
                  f" neighbor {ip} timers {nb['keepalive']} {nb['holdtime']}", f" neighbor {ip} timers connect 10"]
    lines.append(" address-family ipv4 unicast")
    lines += [f"  network {n}" for n in nets]
    lines.append("  maximum-paths 64")
    lines += [f"  neighbor {ip} activate" for ip in sorted(db["BGP_NEIGHBOR"])]
    lines += [" exit-address-family", "!"]
    return "\n".join(lines) + "\n"
