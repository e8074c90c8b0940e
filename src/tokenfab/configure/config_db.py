"""Fabric -> one SONiC config_db.json per switch, built as data (dicts), never as text.

Formats follow SONiC's CONFIG_DB: every value a string, `|`-joined keys, one port per key (SONiC's
YANG rejects compact multi-port keys). BGP is bgpcfgd style (BGP_NEIGHBOR keyed by the peer's
address); DEVICE_NEIGHBOR is keyed by the local port, which is what SONiC's QoS/buffer templates
and `pfcwd start_default` treat as the set of active ports.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tokenfab.catalog import load_catalog
from tokenfab.catalog.roce import Profile, resolve
from tokenfab.configure import buffers, hashing, ports
from tokenfab.design.model import Fabric

# SONiC's device types for an AI backend fabric (sonic-device_metadata.yang `type`).
SONIC_TYPE = {"leaf": "BackEndToRRouter", "spine": "BackEndLeafRouter", "core": "BackEndSpineRouter", "server": "Server"}
# BGP timers on every session. SONiC's defaults are 60/180; 10/30 detects a dead peer (one that
# stops without taking the link down) in 30 s and stays calm on a CPU-starved twin (see
# notes/frr-netns.md: 3/9 flaps at scale). A link that goes down ends its session at once anyway.
BGP_KEEPALIVE_S = 10
BGP_HOLDTIME_S = 30
MGMT_PORT = "eth0"


@dataclass(frozen=True)
class End:
    """One cabled port of a switch, seen from that switch."""

    port: str
    peer: int  # device row
    peer_port: str
    speed_gbps: int
    ip: str  # this end's address ("" when none)
    peer_ip: str
    prefix_len: int
    length_m: float
    kind: str  # nic | leaf-spine | spine-core
    down: bool  # the peer is below this switch (server or lower tier)


class Context:
    """Per-fabric lookups shared by every switch's builder."""

    def __init__(self, fabric: Fabric):
        self.fabric = fabric
        self.catalog = load_catalog(fabric.catalog_layers)
        self.profile: Profile = resolve(fabric.intent.roce)
        D, L = fabric.devices, fabric.links
        self.col = {c: D[c].tolist() for c in D.columns}
        self.lcol = {c: L[c].tolist() for c in L.columns}
        a, b = L["a"], L["b"]
        self._by_a = _group(a, len(D))
        self._by_b = _group(b, len(D))
        mgmt = ipaddress.IPv4Network(fabric.intent.addressing.management)
        self.mgmt_gateway = str(mgmt.network_address + 1)  # addressing reserves .1 for the gateway
        self.ztp_server = str(mgmt.network_address + 2)  # and the next address for ZTP/DHCP/HTTP
        S = fabric.subnets
        self.subnets: dict[int, list[dict]] = {}
        for i in range(len(S)):
            r = S.row(i)
            self.subnets.setdefault(r["leaf"], []).append(r)
        self.server_links = fabric.intent.addressing.server_links

    @cached_property
    def switch_rows(self) -> list[int]:
        return [i for i, r in enumerate(self.col["role"]) if r != "server"]

    @cached_property
    def server_rows(self) -> list[int]:
        return [i for i, r in enumerate(self.col["role"]) if r == "server"]

    def name(self, row: int) -> str:
        return self.col["name"][row]

    def ends(self, row: int) -> list[End]:
        lc = self.lcol
        out = []
        for i in self._by_a[row]:
            out.append(
                End(
                    lc["a_port"][i],
                    lc["b"][i],
                    lc["b_port"][i],
                    lc["speed_gbps"][i],
                    lc["a_ip"][i],
                    lc["b_ip"][i],
                    lc["prefix_len"][i],
                    lc["length_m"][i],
                    lc["kind"][i],
                    False,
                )
            )
        for i in self._by_b[row]:
            out.append(
                End(
                    lc["b_port"][i],
                    lc["a"][i],
                    lc["a_port"][i],
                    lc["speed_gbps"][i],
                    lc["b_ip"][i],
                    lc["a_ip"][i],
                    lc["prefix_len"][i],
                    lc["length_m"][i],
                    lc["kind"][i],
                    True,
                )
            )
        return out


def _group(keys: np.ndarray, n: int) -> list[list[int]]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    o = order.tolist()
    return [o[bounds[i] : bounds[i + 1]] for i in range(n)]


def _port_sort_key(name: str) -> tuple:
    digits = name.removeprefix("Ethernet")
    return (0, int(digits)) if digits.isdigit() else (1, name)


def switch_config(ctx: Context, row: int) -> dict:
    """The config_db.json content of one switch."""
    c = ctx.col
    name, role, model = c["name"][row], c["role"][row], c["model"][row]
    sw = ctx.catalog.switches[model]
    sonic = ports._sonic(sw)  # configure needs the platform data
    ends = sorted(ctx.ends(row), key=lambda e: _port_sort_key(e.port))
    tier = ctx.fabric.design.tiers_detail.get(role)
    preferred = [m for m in (tier.down_breakout, tier.up_breakout) if m] if tier else []
    port_specs, breakout = ports.layout(sw, {e.port: e.speed_gbps for e in ends}, preferred, name)
    by_port = {e.port: e for e in ends}
    p31 = ctx.server_links == "p31"

    cfg: dict[str, dict] = {}
    cfg["DEVICE_METADATA"] = {
        "localhost": {
            "hostname": name,
            "hwsku": c["hwsku"][row],
            "platform": c["platform"][row],
            "mac": c["mac"][row],
            "bgp_asn": str(c["asn"][row]),
            "bgp_router_id": c["loopback"][row],
            "type": SONIC_TYPE[role],
            "resource_type": "ComputeAI",
            "cluster": ctx.fabric.intent.name,
            "buffer_model": "traditional",
            "default_bgp_status": "up",
            "default_pfcwd_status": "enable",
            "synchronous_mode": "enable",
            "yang_config_validation": "enable",
            # p31: bgpcfgd would not advertise the NIC /31s, so the operator-owned frr.conf is used.
            "docker_routing_config_mode": "split-unified" if p31 else "separated",
        }
    }

    port_tbl = {}
    for p in port_specs:
        e = by_port.get(p.name)
        speed = e.speed_gbps if e else p.speed_gbps
        entry = {
            "alias": p.alias,
            "index": str(p.index),
            "lanes": p.lanes,
            "speed": str(speed * 1000),
            "mtu": str(sonic.mtu),
            "admin_status": "up" if e else "down",
        }
        fec = sonic.fec_by_speed_gbps.get(speed)
        if fec:
            entry["fec"] = fec
        if p.mode:
            entry["subport"] = "0" if p.mode.startswith("1x") else str(p.child + 1)
        if e:
            entry["description"] = f"{ctx.name(e.peer)}:{e.peer_port}"
        port_tbl[p.name] = entry
    cfg["PORT"] = port_tbl
    cfg["BREAKOUT_CFG"] = {parent: {"brkout_mode": mode} for parent, mode in breakout.items()}

    lo = c["loopback"][row]
    cfg["LOOPBACK_INTERFACE"] = {"Loopback0": {}, f"Loopback0|{lo}/32": {}}
    cfg["MGMT_PORT"] = {MGMT_PORT: {"alias": MGMT_PORT, "admin_status": "up"}}
    cfg["MGMT_INTERFACE"] = {f"{MGMT_PORT}|{c['mgmt'][row]}": {"gwaddr": ctx.mgmt_gateway}}

    intf: dict[str, dict] = {}
    bgp: dict[str, dict] = {}
    for e in ends:
        if e.kind != "nic":
            intf[e.port] = {}
            intf[f"{e.port}|{e.ip}/{e.prefix_len}"] = {}
            bgp[e.peer_ip] = {
                "asn": str(c["asn"][e.peer]),
                "name": ctx.name(e.peer),
                "local_addr": e.ip,
                "keepalive": str(BGP_KEEPALIVE_S),
                "holdtime": str(BGP_HOLDTIME_S),
                "admin_status": "up",
            }
        elif p31:
            intf[e.port] = {}
            intf[f"{e.port}|{e.ip}/{e.prefix_len}"] = {}
    if intf:
        cfg["INTERFACE"] = intf
    if bgp:
        cfg["BGP_NEIGHBOR"] = bgp

    if role == "leaf" and not p31 and row in ctx.subnets:
        vlan: dict[str, dict] = {}
        member: dict[str, dict] = {}
        vintf: dict[str, dict] = {}
        gw_vlan = {}
        for s in ctx.subnets[row]:
            v = f"Vlan{s['vlan']}"
            plen = s["prefix"].split("/")[1]
            vlan[v] = {"vlanid": str(s["vlan"]), "mtu": str(sonic.mtu), "admin_status": "up"}
            vintf[v] = {}
            vintf[f"{v}|{s['gateway']}/{plen}"] = {}
            gw_vlan[s["gateway"]] = v
        for e in ends:
            if e.kind == "nic" and e.ip in gw_vlan:
                member[f"{gw_vlan[e.ip]}|{e.port}"] = {"tagging_mode": "untagged"}
        cfg["VLAN"], cfg["VLAN_INTERFACE"] = vlan, vintf
        if member:
            cfg["VLAN_MEMBER"] = member

    neigh, meta = {}, {}
    for e in ends:
        peer = ctx.name(e.peer)
        neigh[e.port] = {"name": peer, "port": e.peer_port, "local_port": e.port}
        prole = c["role"][e.peer]
        m = {"type": SONIC_TYPE[prole], "hwsku": c["hwsku"][e.peer] or c["model"][e.peer]}
        if prole != "server":
            m.update(lo_addr=f"{c['loopback'][e.peer]}/32", mgmt_addr=c["mgmt"][e.peer].split("/")[0] + "/32")
        meta[peer] = m
    cfg["DEVICE_NEIGHBOR"] = neigh
    cfg["DEVICE_NEIGHBOR_METADATA"] = meta

    cfg.update(qos_tables(ctx, model, ends))
    cfg["SWITCH_HASH"] = hashing.switch_hash_table()
    return cfg


def qos_tables(ctx: Context, model: str, ends: list[End]) -> dict:
    """RoCEv2 lossless QoS for the active ports (those with a DEVICE_NEIGHBOR), from the profile."""
    prof = ctx.profile
    mp = prof.map_name
    active = [e.port for e in ends]
    t: dict[str, dict] = {}
    t["DSCP_TO_TC_MAP"] = {mp: {str(d): str(tc) for d, tc in prof.dscp_map().items()}}
    t["TC_TO_QUEUE_MAP"] = {mp: {str(k): str(v) for k, v in sorted(prof.tc_to_queue.items())}}
    t["TC_TO_PRIORITY_GROUP_MAP"] = {mp: {str(k): str(v) for k, v in prof.pg_map().items()}}
    t["MAP_PFC_PRIORITY_TO_QUEUE"] = {mp: {str(k): str(v) for k, v in sorted(prof.pfc_to_queue.items())}}
    qos = {"global": {"dscp_to_tc_map": mp}}
    for p in active:
        qos[p] = {
            "dscp_to_tc_map": mp,
            "tc_to_queue_map": mp,
            "tc_to_pg_map": mp,
            "pfc_to_queue_map": mp,
            "pfc_enable": prof.pfc_enable,
            "pfcwd_sw_enable": prof.pfc_enable,
        }
    t["PORT_QOS_MAP"] = qos

    sched: dict[str, dict[str, str]] = {}
    for n, s in prof.schedulers.items():
        sched[n] = {"type": s.type} | ({"weight": str(s.weight)} if s.weight is not None else {})
    t["SCHEDULER"] = sched
    w = prof.wred
    wred: dict[str, str] = {"ecn": w.ecn}
    for color in ("green", "yellow", "red"):
        wred.update(
            {
                f"wred_{color}_enable": "true",
                f"{color}_min_threshold": str(w.min_bytes),
                f"{color}_max_threshold": str(w.max_bytes),
                f"{color}_drop_probability": str(w.mark_probability_percent),
            }
        )
    t["WRED_PROFILE"] = {w.name: wred}
    lossless_q = {prof.tc_to_queue[p] for p in prof.lossless_priorities}
    queue = {}
    for p in active:
        for q, sched_name in sorted(prof.queues.items()):
            queue[f"{p}|{q}"] = {"scheduler": sched_name} | ({"wred_profile": w.name} if q in lossless_q else {})
    t["QUEUE"] = queue

    pools = buffers.pools(model)
    used: dict[str, buffers.Headroom] = {}
    port_headroom: dict[str, buffers.Headroom] = {}
    for e in ends:
        h = buffers.headroom(model, e.speed_gbps, float(e.length_m))
        used[h.profile] = h
        port_headroom[e.port] = h
    t["BUFFER_POOL"] = pools.pools
    t["BUFFER_PROFILE"] = buffers.profiles(pools, [used[k] for k in sorted(used)])
    pg_map = prof.pg_map()
    lossless_pg = sorted({pg_map[p] for p in prof.lossless_priorities})
    lossy_pg = sorted({pg_map[tc] for tc in range(8)} - set(lossless_pg))
    lossy_q = sorted(set(prof.queues) - lossless_q)
    pg, bq = {}, {}
    for p in active:
        for r in buffers.ranges(lossless_pg):
            pg[f"{p}|{r}"] = {"profile": port_headroom[p].profile}
        for r in buffers.ranges(lossy_pg):
            pg[f"{p}|{r}"] = {"profile": "ingress_lossy_profile"}
        for r in buffers.ranges(sorted(lossless_q)):
            bq[f"{p}|{r}"] = {"profile": "egress_lossless_profile"}
        for r in buffers.ranges(lossy_q):
            bq[f"{p}|{r}"] = {"profile": "egress_lossy_profile"}
    t["BUFFER_PG"], t["BUFFER_QUEUE"] = pg, bq
    t["CABLE_LENGTH"] = {"AZURE": {p: f"{port_headroom[p].cable_m}m" for p in active}}

    # pfcwd start_default scales its timers with the number of ports it watches.
    wd = prof.pfcwd
    mult = max(1, (len(active) - 1) // 32 + 1)
    wdt = {"GLOBAL": {"POLL_INTERVAL": str(min(1000, wd.poll_interval_ms * mult))}}
    for p in active:
        wdt[p] = {
            "action": wd.action,
            "detection_time": str(wd.detection_time_ms * mult),
            "restoration_time": str(wd.restoration_time_ms * mult),
        }
    t["PFC_WD"] = wdt
    return t


def headroom_rows(ctx: Context, row: int) -> list[dict]:
    """Rows for configs/buffers.csv: each port's lossless headroom and where the figures come from."""
    model = ctx.col["model"][row]
    pools = buffers.pools(model)
    out = []
    for e in sorted(ctx.ends(row), key=lambda e: _port_sort_key(e.port)):
        h = buffers.headroom(model, e.speed_gbps, float(e.length_m))
        out.append(
            {
                "device": ctx.name(row),
                "port": e.port,
                "speed_gbps": e.speed_gbps,
                "length_m": e.length_m,
                "cable_m": h.cable_m,
                "profile": h.profile,
                "size": h.size,
                "xon": h.xon,
                "xoff": h.xoff,
                "dynamic_th": h.dynamic_th,
                "headroom_source": h.source,
                "pools_source": pools.source,
                "estimate": "yes" if (h.estimate or pools.estimate) else "no",
            }
        )
    return out
