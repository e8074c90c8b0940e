"""Checks no single-device schema can make: the fabric's files read together.

Inputs are what `configure` wrote (config_db.json per switch, frr.conf, the hosts' netplan and
roce.sh) plus the plan (fabric.json). Each check returns Violations naming device, table, key and
field. The comparisons:

- platform: PORT names, lanes and speeds are those the platform's port map gives for the cage's
  BREAKOUT_CFG mode; no lane is used twice.
- links: both ends of every cabled link name each other (DEVICE_NEIGHBOR) and agree on speed, FEC
  and MTU; a host's NIC MTU fits the leaf port's MTU; every planned link is configured.
- bgp: every BGP_NEIGHBOR has its mirror: the peer address belongs to the named device, whose ASN
  is the one configured, and which peers back from our local_addr with our ASN, on one subnet.
- addresses: no address is configured twice (interfaces, loopbacks, VLAN gateways, management,
  host NICs).
- lossless: every active port of every switch classifies and pauses the same way (DSCP -> TC, TC
  -> PG, TC -> queue, pfc_enable), both ends of a link enable PFC on the same priorities, each
  lossless PG has headroom, and every host marks RoCE with a DSCP the switches treat as lossless,
  with the same PFC priorities.
- ecn: each lossless queue marks ECN (WRED profile with ECN on) and marking starts before PFC
  would pause. Comparison: in an N-to-1 incast the egress queue holds what the N congested
  ingress PGs hold; with dynamic thresholds a PG pauses at reserved + a*B/(1 + a*N) (a = 2^
  dynamic_th, B = the pool's shared bytes), so the queue holds N*a*B/(1 + a*N) at the first pause,
  least for N = 1. ECN starts before PFC when ecn_min < reserved + a*B/(1 + a) (static
  thresholds: ecn_min < static_th). Hosts enable ECN on their PFC priorities.
- reach: every planned NIC has its address, its leaf port is up and in the VLAN (or /31) whose
  gateway the host routes through, its subnet is advertised in the leaf's frr.conf, and every leaf
  learns every other leaf's prefixes that the plan says it must reach (a BGP path over mirrored
  sessions with no AS repeated, as eBGP's loop check requires).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from tokenfab.catalog import load_catalog
from tokenfab.configure import ports as portmod
from tokenfab.design.model import Fabric


@dataclass(frozen=True)
class Violation:
    check: str
    device: str
    table: str = ""
    key: str = ""
    field: str = ""
    message: str = ""

    def where(self) -> str:
        loc = "|".join(p for p in (self.table, self.key) if p)
        return f"{self.device}" + (f" {loc}" if loc else "") + (f" .{self.field}" if self.field else "")


@dataclass
class Host:
    addresses: dict[str, str]  # NIC -> ip/len
    gateways: dict[str, str]  # NIC -> next hop of its routes
    mtu: dict[str, int]
    vars: dict[str, str]  # roce.sh variables


def _ints(text: str) -> list[int]:
    return [int(x) for x in re.split(r"[,\s]+", text.strip()) if x.isdigit()]


def _speeds(mode: str) -> set[int]:
    """Speeds (Mb/s) a breakout mode allows for its ports: '2x400G[200G]' -> {400000, 200000}."""
    m = re.match(r"\d+x(\d+)G(?:\[([^\]]*)\])?", mode)
    if not m:
        return set()
    out = {int(m.group(1)) * 1000}
    for alt in (m.group(2) or "").split(","):
        if alt.strip().endswith("G") and alt.strip()[:-1].isdigit():
            out.add(int(alt.strip()[:-1]) * 1000)
    return out


# ---------------------------------------------------------------------------------------
def platform(name: str, model: str, cfg: dict) -> list[Violation]:
    out: list[Violation] = []
    sw = load_catalog().switches.get(model)
    if sw is None or sw.sonic is None:
        return [Violation("platform", name, "DEVICE_METADATA", "localhost", "hwsku", f"model {model} has no SONiC platform data")]
    meta = cfg.get("DEVICE_METADATA", {}).get("localhost", {})
    if meta.get("platform") != sw.sonic.platform:
        out.append(
            Violation(
                "platform",
                name,
                "DEVICE_METADATA",
                "localhost",
                "platform",
                f"{meta.get('platform')!r} but the plan's {model} is {sw.sonic.platform!r}",
            )
        )
    brk = {k: v.get("brkout_mode", "") for k, v in cfg.get("BREAKOUT_CFG", {}).items()}
    known = {m.mode for m in sw.breakout_modes}
    for parent, mode in sorted(brk.items()):
        if mode not in known:
            out.append(
                Violation(
                    "platform",
                    name,
                    "BREAKOUT_CFG",
                    parent,
                    "brkout_mode",
                    f"{mode!r} is not a breakout mode of {model} ({', '.join(sorted(known))})",
                )
            )
    expected = portmod.expected_ports(sw, brk)
    lanes_seen: dict[str, str] = {}
    for pname, p in cfg.get("PORT", {}).items():
        exp = expected.get(pname)
        if exp is None:
            out.append(
                Violation(
                    "platform", name, "PORT", pname, "", f"not a port of {model} ({sw.sonic.platform}) under its BREAKOUT_CFG"
                )
            )
            continue
        if p.get("lanes") != exp.lanes:
            out.append(
                Violation(
                    "platform",
                    name,
                    "PORT",
                    pname,
                    "lanes",
                    f"{p.get('lanes')!r}, but the platform's port map gives {exp.lanes!r} in mode {exp.mode or 'fixed'}",
                )
            )
        allowed = _speeds(exp.mode) if exp.mode else {exp.speed_gbps * 1000}
        if str(p.get("speed", "")).isdigit() and int(p["speed"]) not in allowed:
            out.append(
                Violation(
                    "platform",
                    name,
                    "PORT",
                    pname,
                    "speed",
                    f"{p['speed']} Mb/s is not allowed in mode "
                    f"{exp.mode} (allowed: {', '.join(str(s) for s in sorted(allowed))})",
                )
            )
        for lane in str(p.get("lanes", "")).split(","):
            if lane in lanes_seen and lanes_seen[lane] != pname:
                out.append(Violation("platform", name, "PORT", pname, "lanes", f"lane {lane} is also used by {lanes_seen[lane]}"))
            lanes_seen.setdefault(lane, pname)
    return out


# ---------------------------------------------------------------------------------------
def links(fabric: Fabric, configs: dict[str, dict], hosts: dict[str, Host]) -> list[Violation]:
    out: list[Violation] = []
    for name, cfg in sorted(configs.items()):
        ports_tbl = cfg.get("PORT", {})
        for port, n in sorted(cfg.get("DEVICE_NEIGHBOR", {}).items()):
            peer, peer_port = n.get("name", ""), n.get("port", "")
            mine = ports_tbl.get(port, {})
            if peer in configs:
                back = configs[peer].get("DEVICE_NEIGHBOR", {}).get(peer_port, {})
                if back.get("name") != name or back.get("port") != port:
                    out.append(
                        Violation(
                            "link",
                            name,
                            "DEVICE_NEIGHBOR",
                            port,
                            "",
                            f"says {peer}:{peer_port}, but "
                            f"{peer}:{peer_port} says {back.get('name', '-')}:{back.get('port', '-')}",
                        )
                    )
                    continue
                if name > peer:
                    continue  # each switch-switch link once
                theirs = configs[peer].get("PORT", {}).get(peer_port, {})
                for f in ("speed", "fec", "mtu", "admin_status"):
                    if mine.get(f) != theirs.get(f):
                        out.append(
                            Violation(
                                "link", name, "PORT", port, f, f"{mine.get(f)!r} here, {theirs.get(f)!r} on {peer}:{peer_port}"
                            )
                        )
            elif peer in hosts:
                h = hosts[peer]
                if peer_port not in h.addresses:
                    out.append(
                        Violation("link", name, "DEVICE_NEIGHBOR", port, "port", f"{peer} has no NIC {peer_port} in its netplan")
                    )
                elif str(mine.get("mtu", "")).isdigit() and h.mtu.get(peer_port, 0) > int(mine["mtu"]):
                    out.append(
                        Violation(
                            "link",
                            peer,
                            "netplan",
                            peer_port,
                            "mtu",
                            f"{h.mtu[peer_port]} exceeds the MTU {mine['mtu']} of {name}:{port}",
                        )
                    )
    # every planned link is configured, at the planned speed
    for link in fabric.iter_links():
        for dev, port, peer, peer_port in (
            (link.a, link.a_port, link.b, link.b_port),
            (link.b, link.b_port, link.a, link.a_port),
        ):
            dev_cfg = configs.get(dev)
            if dev_cfg is None:
                continue
            n = dev_cfg.get("DEVICE_NEIGHBOR", {}).get(port)
            if n is None or n.get("name") != peer or n.get("port") != peer_port:
                out.append(
                    Violation(
                        "link",
                        dev,
                        "DEVICE_NEIGHBOR",
                        port,
                        "",
                        f"the plan cables {dev}:{port} to "
                        f"{peer}:{peer_port}; the config says {n.get('name') if n else 'nothing'}",
                    )
                )
                continue
            speed = dev_cfg.get("PORT", {}).get(port, {}).get("speed")
            if speed != str(link.speed_gbps * 1000):
                out.append(
                    Violation("link", dev, "PORT", port, "speed", f"{speed!r}, the plan's link runs at {link.speed_gbps}G")
                )
    return out


# ---------------------------------------------------------------------------------------
def _interface_ips(cfg: dict) -> list[tuple[str, str, str]]:
    """(table, key, ip/len) of every address a switch configures."""
    out = []
    for table in ("INTERFACE", "LOOPBACK_INTERFACE", "VLAN_INTERFACE", "MGMT_INTERFACE"):
        for key in cfg.get(table, {}):
            name, sep, ip = key.partition("|")
            if sep:
                out.append((table, key, ip))
    return out


def addresses(configs: dict[str, dict], hosts: dict[str, Host]) -> list[Violation]:
    owners: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for name, cfg in configs.items():
        for table, key, ip in _interface_ips(cfg):
            owners[ip.split("/")[0]].append((name, table, key))
    for name, h in hosts.items():
        for nic, ip in h.addresses.items():
            owners[ip.split("/")[0]].append((name, "netplan", nic))
    out = []
    for ip, who in sorted(owners.items()):
        if len(who) > 1:
            first = who[0]
            for dev, table, key in who[1:]:
                out.append(
                    Violation("address", dev, table, key, "", f"{ip} is also configured on {first[0]} {first[1]}|{first[2]}")
                )
    return out


# ---------------------------------------------------------------------------------------
def bgp(configs: dict[str, dict]) -> list[Violation]:
    owner: dict[str, tuple[str, ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
    for name, cfg in configs.items():
        for table, _key, ip in _interface_ips(cfg):
            if table != "MGMT_INTERFACE":
                try:
                    owner[ip.split("/")[0]] = (name, ipaddress.ip_interface(ip))
                except ValueError:
                    pass
    out = []
    for name, cfg in sorted(configs.items()):
        asn = cfg.get("DEVICE_METADATA", {}).get("localhost", {}).get("bgp_asn")
        for key, n in sorted(cfg.get("BGP_NEIGHBOR", {}).items()):
            peer_ip = key.split("|")[-1]
            local = n.get("local_addr", "")
            mine = owner.get(local)
            if mine is None or mine[0] != name:
                out.append(Violation("bgp", name, "BGP_NEIGHBOR", key, "local_addr", f"{local!r} is not an address of {name}"))
                continue
            try:
                same = ipaddress.ip_address(peer_ip) in mine[1].network
            except ValueError:
                same = False
            if not same:
                out.append(
                    Violation(
                        "bgp", name, "BGP_NEIGHBOR", key, "", f"peer {peer_ip} is not on the subnet of local_addr {mine[1]}"
                    )
                )
            theirs = owner.get(peer_ip)
            if theirs is None:
                out.append(Violation("bgp", name, "BGP_NEIGHBOR", key, "", f"no switch has address {peer_ip}"))
                continue
            peer = theirs[0]
            if n.get("name") and n["name"] != peer:
                out.append(Violation("bgp", name, "BGP_NEIGHBOR", key, "name", f"{n['name']!r}, but {peer_ip} is on {peer}"))
            peer_asn = configs[peer].get("DEVICE_METADATA", {}).get("localhost", {}).get("bgp_asn")
            if n.get("asn") != peer_asn:
                out.append(
                    Violation("bgp", name, "BGP_NEIGHBOR", key, "asn", f"{n.get('asn')}, but {peer} has bgp_asn {peer_asn}")
                )
            back = configs[peer].get("BGP_NEIGHBOR", {})
            rev = back.get(local) or back.get(f"default|{local}")
            if rev is None:
                out.append(
                    Violation(
                        "bgp",
                        name,
                        "BGP_NEIGHBOR",
                        key,
                        "",
                        f"no reverse session: {peer} has no BGP_NEIGHBOR {local} (ASN {asn})",
                    )
                )
                continue
            if rev.get("asn") != asn:
                out.append(
                    Violation(
                        "bgp", name, "BGP_NEIGHBOR", key, "", f"{peer} peers back with ASN {rev.get('asn')}, not {name}'s {asn}"
                    )
                )
            if rev.get("local_addr") and rev["local_addr"] != peer_ip:
                out.append(
                    Violation("bgp", name, "BGP_NEIGHBOR", key, "", f"{peer} peers back from {rev['local_addr']}, not {peer_ip}")
                )
    return out


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortQos:
    dscp_to_tc: tuple
    tc_to_pg: tuple
    tc_to_queue: tuple
    pfc: tuple


class QosView:
    """Cached reads of one switch's QoS tables (maps by name, BUFFER_PG ranges by port)."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self._maps: dict[tuple[str, str], dict[int, int]] = {}
        self._pg: dict[str, list[tuple[int, int, str]]] | None = None

    def map(self, table: str, name: str | None) -> dict[int, int]:
        key = (table, name or "")
        if key not in self._maps:
            out = {}
            for k, v in self.cfg.get(table, {}).get(name or "", {}).items():
                if str(k).isdigit() and str(v).isdigit():
                    out[int(k)] = int(v)
            self._maps[key] = out
        return self._maps[key]

    def pg_profile(self, port: str, pg: int) -> str | None:
        """The BUFFER_PG profile covering (port, pg)."""
        if self._pg is None:
            self._pg = defaultdict(list)
            for key, row in self.cfg.get("BUFFER_PG", {}).items():
                p, _, rng = key.partition("|")
                lo, _, hi = rng.partition("-")
                if lo.isdigit() and (hi or lo).isdigit():
                    self._pg[p].append((int(lo), int(hi or lo), row.get("profile")))
        for lo, hi, prof in self._pg.get(port, ()):
            if lo <= pg <= hi:
                return prof
        return None


def port_qos(view: QosView, port: str) -> PortQos | None:
    cfg = view.cfg
    q = cfg.get("PORT_QOS_MAP", {}).get(port)
    if q is None:
        return None
    glob = cfg.get("PORT_QOS_MAP", {}).get("global", {})
    dscp = view.map("DSCP_TO_TC_MAP", q.get("dscp_to_tc_map") or glob.get("dscp_to_tc_map"))
    return PortQos(
        tuple(sorted(dscp.items())),
        tuple(sorted(view.map("TC_TO_PRIORITY_GROUP_MAP", q.get("tc_to_pg_map")).items())),
        tuple(sorted(view.map("TC_TO_QUEUE_MAP", q.get("tc_to_queue_map")).items())),
        tuple(sorted(set(_ints(q.get("pfc_enable", ""))))),
    )


def _diff(a: tuple, b: tuple, label: str) -> str:
    da, db = dict(a), dict(b)
    keys = sorted(set(da) | set(db))
    bad = [f"{label} {k}: {da.get(k, '-')} here, {db.get(k, '-')} elsewhere" for k in keys if da.get(k) != db.get(k)]
    return "; ".join(bad[:4]) + (f" (+{len(bad) - 4} more)" if len(bad) > 4 else "")


def switch_qos(name: str, cfg: dict) -> tuple[dict[str, PortQos], list[Violation]]:
    """One switch's part of the lossless check: every active port has QoS maps and PFC, and each
    lossless priority a PG with headroom (a BUFFER_PG whose profile has xoff). Returns the ports'
    QoS for the checks across devices (`lossless_fabric`)."""
    out: list[Violation] = []
    qos: dict[str, PortQos] = {}
    view = QosView(cfg)
    for port in cfg.get("DEVICE_NEIGHBOR", {}):
        q = port_qos(view, port)
        if q is None:
            out.append(Violation("lossless", name, "PORT_QOS_MAP", port, "", "active port without QoS maps or PFC"))
            continue
        qos[port] = q
        pg_of = dict(q.tc_to_pg)
        for p in q.pfc:
            pg = pg_of.get(p)
            prof = view.pg_profile(port, pg) if pg is not None else None
            if prof is None or "xoff" not in cfg.get("BUFFER_PROFILE", {}).get(prof, {}):
                out.append(
                    Violation(
                        "lossless",
                        name,
                        "BUFFER_PG",
                        f"{port}|{pg}",
                        "profile",
                        f"PFC priority {p} has no lossless buffer (a profile with xoff headroom) on its PG {pg}",
                    )
                )
    return qos, out


def lossless_fabric(qos: dict[tuple[str, str], PortQos], configs: dict[str, dict], hosts: dict[str, Host]) -> list[Violation]:
    """Across devices: every hop classifies and pauses alike, both ends of a link pause on the same
    priorities, and hosts mark and pause as their leaf ports expect. `configs` needs DEVICE_NEIGHBOR."""
    out: list[Violation] = []
    if not qos:
        return out
    common = {
        f: Counter(getattr(q, f) for q in qos.values()).most_common(1)[0][0]
        for f in ("dscp_to_tc", "tc_to_pg", "tc_to_queue", "pfc")
    }
    labels = {
        "dscp_to_tc": ("DSCP_TO_TC_MAP", "dscp_to_tc_map", "DSCP"),
        "tc_to_pg": ("TC_TO_PRIORITY_GROUP_MAP", "tc_to_pg_map", "TC"),
        "tc_to_queue": ("TC_TO_QUEUE_MAP", "tc_to_queue_map", "TC"),
    }
    for (name, port), q in sorted(qos.items()):
        for f, (table, field, label) in labels.items():
            if getattr(q, f) != common[f]:
                out.append(
                    Violation(
                        "lossless",
                        name,
                        "PORT_QOS_MAP",
                        port,
                        field,
                        f"{table} differs from the rest of the fabric: {_diff(getattr(q, f), common[f], label)}",
                    )
                )
        if q.pfc != common["pfc"]:
            out.append(
                Violation(
                    "lossless",
                    name,
                    "PORT_QOS_MAP",
                    port,
                    "pfc_enable",
                    f"PFC on priorities {','.join(map(str, q.pfc)) or 'none'}, but "
                    f"{','.join(map(str, common['pfc']))} on the other hops",
                )
            )
    # both ends of each switch-switch link pause on the same priorities
    for (name, port), q in sorted(qos.items()):
        n = configs[name]["DEVICE_NEIGHBOR"][port]
        other = qos.get((n.get("name"), n.get("port")))
        if other is not None and name < n.get("name", "") and other.pfc != q.pfc:
            out.append(
                Violation(
                    "lossless",
                    name,
                    "PORT_QOS_MAP",
                    port,
                    "pfc_enable",
                    f"PFC {','.join(map(str, q.pfc))} here, {','.join(map(str, other.pfc))} on {n['name']}:{n['port']}",
                )
            )
    # hosts against their leaf ports
    for name, cfg in sorted(configs.items()):
        for port, n in sorted(cfg.get("DEVICE_NEIGHBOR", {}).items()):
            h = hosts.get(n.get("name", ""))
            port_q = qos.get((name, port))
            if h is None or port_q is None:
                continue
            out += _host_vs_port(n["name"], h, name, port, port_q)
    return out


def lossless(configs: dict[str, dict], hosts: dict[str, Host]) -> list[Violation]:
    """The whole lossless check over loaded configs: each switch's part, then across devices."""
    out: list[Violation] = []
    qos: dict[tuple[str, str], PortQos] = {}
    for name, cfg in configs.items():
        mine, found = switch_qos(name, cfg)
        out += found
        qos.update({(name, port): q for port, q in mine.items()})
    return out + lossless_fabric(qos, configs, hosts)


def _host_vs_port(host: str, h: Host, switch: str, port: str, q: PortQos) -> list[Violation]:
    out = []
    v = h.vars
    try:
        dscp, prio = int(v["ROCE_DSCP"]), int(v["ROCE_PRIORITY"])
        cnp, cnp_prio = int(v["CNP_DSCP"]), int(v["CNP_PRIORITY"])
        pfc = tuple(sorted(set(_ints(v["PFC_PRIORITIES"]))))
        ecn = set(_ints(v.get("ECN_PRIORITIES", "")))
    except (KeyError, ValueError) as exc:
        return [Violation("lossless", host, "roce.sh", "", "", f"missing or bad setting {exc}")]
    for label, d in (("ROCE_DSCP", dscp), ("CNP_DSCP", cnp)):
        if not 0 <= d <= 63:
            out.append(Violation("lossless", host, "roce.sh", "", label, f"DSCP {d} is outside 0..63"))
    tc = dict(q.dscp_to_tc)
    if tc.get(dscp) not in q.pfc:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "ROCE_DSCP",
                f"RoCE marked DSCP {dscp} is TC {tc.get(dscp, '-')} "
                f"on {switch}:{port}, not one of its lossless priorities {','.join(map(str, q.pfc))}",
            )
        )
    elif tc.get(dscp) != prio:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "ROCE_PRIORITY",
                f"the NIC sends DSCP {dscp} on priority {prio}, {switch}:{port} classifies it as TC {tc.get(dscp)}",
            )
        )
    if pfc != q.pfc:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "PFC_PRIORITIES",
                f"PFC on {','.join(map(str, pfc))} at the host, {','.join(map(str, q.pfc))} on {switch}:{port}",
            )
        )
    if tc.get(cnp) != cnp_prio:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "CNP_PRIORITY",
                f"CNP DSCP {cnp} on priority {cnp_prio} at the host, TC {tc.get(cnp, '-')} on {switch}:{port}",
            )
        )
    if not set(pfc) <= ecn:
        out.append(
            Violation(
                "ecn",
                host,
                "roce.sh",
                "",
                "ECN_PRIORITIES",
                f"ECN is off on lossless priorities {','.join(map(str, sorted(set(pfc) - ecn)))}",
            )
        )
    return out


# ---------------------------------------------------------------------------------------
def _num(row: dict, field: str) -> int | None:
    v = row.get(field)
    return int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else None


def ecn(configs: dict[str, dict]) -> list[Violation]:
    out = []
    for name, cfg in sorted(configs.items()):
        view = QosView(cfg)
        wred = cfg.get("WRED_PROFILE", {})
        pools = cfg.get("BUFFER_POOL", {})
        profiles = cfg.get("BUFFER_PROFILE", {})
        for port in sorted(cfg.get("DEVICE_NEIGHBOR", {})):
            q = port_qos(view, port)
            if q is None:
                continue
            tc_q, pg_of = dict(q.tc_to_queue), dict(q.tc_to_pg)
            for p in q.pfc:
                queue = tc_q.get(p, p)
                row = cfg.get("QUEUE", {}).get(f"{port}|{queue}", {})
                prof = wred.get(row.get("wred_profile", ""), {})
                if not row.get("wred_profile") or prof.get("ecn", "ecn_none") == "ecn_none":
                    out.append(
                        Violation(
                            "ecn",
                            name,
                            "QUEUE",
                            f"{port}|{queue}",
                            "wred_profile",
                            f"lossless queue {queue} does not mark ECN (no WRED profile with ECN)",
                        )
                    )
                    continue
                kmin = _num(prof, "green_min_threshold")
                pg_prof = view.pg_profile(port, pg_of.get(p, p))
                bp = profiles.get(pg_prof or "", {})
                pause, how = _pause_bytes(bp, pools.get(bp.get("pool", ""), {}))
                if kmin is None or pause is None:
                    continue
                if kmin >= pause:
                    out.append(
                        Violation(
                            "ecn",
                            name,
                            "WRED_PROFILE",
                            row["wred_profile"],
                            "green_min_threshold",
                            f"ECN starts at {kmin} B of queue, after PFC would pause ({how} = {pause} B for "
                            f"{port} PG {pg_of.get(p, p)}, profile {pg_prof})",
                        )
                    )
    return out


def _pause_bytes(profile: dict, pool: dict) -> tuple[int | None, str]:
    static = _num(profile, "static_th")
    if static is not None:
        return static, "static_th"
    dyn, size = _num(profile, "dynamic_th"), _num(profile, "size")
    pool_size = _num(pool, "size")
    if dyn is None or pool_size is None:
        return None, ""
    shared = pool_size - (_num(pool, "xoff") or 0)
    reserved = max(0, (size or 0) - (_num(profile, "xoff") or 0))
    a = 2.0**dyn
    return int(reserved + a * shared / (1 + a)), f"reserved + a*B/(1+a) with a=2^{dyn}, B={shared}"


# ---------------------------------------------------------------------------------------
def reach(fabric: Fabric, configs: dict[str, dict], advertised: dict[str, list[str]], hosts: dict[str, Host]) -> list[Violation]:
    out: list[Violation] = []
    # 1. each planned NIC: address, leaf port up, in the gateway's VLAN or /31, subnet advertised
    for link in fabric.iter_links("nic"):
        server, nic, leaf, port = link.a, link.a_port, link.b, link.b_port
        h, cfg = hosts.get(server), configs.get(leaf)
        if h is None or cfg is None:
            continue
        ip = h.addresses.get(nic)
        if ip is None:
            out.append(Violation("reach", server, "netplan", nic, "addresses", "the planned NIC has no address"))
            continue
        nic_if = ipaddress.ip_interface(ip)
        gw = h.gateways.get(nic, "")
        if cfg.get("PORT", {}).get(port, {}).get("admin_status") != "up":
            out.append(Violation("reach", leaf, "PORT", port, "admin_status", f"down, but {server}:{nic} is cabled to it"))
        l3 = []  # (ip/len) on the leaf that serve this port
        for key in cfg.get("INTERFACE", {}):
            p, sep, pfx = key.partition("|")
            if sep and p == port:
                l3.append(pfx)
        for key in cfg.get("VLAN_MEMBER", {}):
            vlan, _, p = key.partition("|")
            if p == port:
                l3 += [k.partition("|")[2] for k in cfg.get("VLAN_INTERFACE", {}) if k.startswith(f"{vlan}|")]
        serving = [x for x in l3 if nic_if.ip in ipaddress.ip_interface(x).network]
        if not serving:
            out.append(
                Violation(
                    "reach",
                    leaf,
                    "VLAN_MEMBER" if fabric.intent.addressing.server_links == "vlan" else "INTERFACE",
                    port,
                    "",
                    f"no VLAN interface or /31 on {port} covers {server}:{nic} {ip}",
                )
            )
            continue
        if gw and gw not in {x.split("/")[0] for x in serving}:
            out.append(
                Violation(
                    "reach",
                    server,
                    "netplan",
                    nic,
                    "routes",
                    f"routes via {gw}, but {leaf}:{port} answers on {', '.join(x.split('/')[0] for x in serving)}",
                )
            )
        if not any(nic_if.ip in ipaddress.ip_network(p) for p in advertised.get(leaf, [])):
            out.append(
                Violation("reach", leaf, "frr.conf", "", "network", f"{ip} ({server}:{nic}) is in no prefix {leaf} advertises")
            )
    # 2. BGP propagation over mirrored sessions, AS loop check
    asn = {n: c.get("DEVICE_METADATA", {}).get("localhost", {}).get("bgp_asn") for n, c in configs.items()}
    owner = {}
    for n, c in configs.items():
        for _table, _key, ip in _interface_ips(c):
            owner[ip.split("/")[0]] = n
    # a session is up when both ends configure it: each names the other's address and ASN
    half: set[tuple[str, str, str, str]] = set()  # (device, peer, local ip, peer ip)
    for n, c in configs.items():
        for key, nb in c.get("BGP_NEIGHBOR", {}).items():
            peer_ip = key.split("|")[-1]
            peer = owner.get(peer_ip)
            if peer in configs and nb.get("asn") == asn[peer] and nb.get("admin_status", "up") == "up":
                half.add((n, peer, nb.get("local_addr", ""), peer_ip))
    adj: dict[str, set[str]] = defaultdict(set)
    for n, peer, local, peer_ip in half:
        if (peer, n, peer_ip, local) in half:
            adj[n].add(peer)
    peers = {n: sorted(v) for n, v in adj.items()}
    for group in fabric.expectations.reach_groups:
        members = [m for m in group.leaves if m in configs]
        for origin in members:
            got = _propagate(origin, peers, asn)
            missing = [m for m in members if m != origin and m not in got]
            if missing:
                pfx = ", ".join(advertised.get(origin, [])[:3])
                out.append(
                    Violation(
                        "reach",
                        origin,
                        "BGP_NEIGHBOR",
                        "",
                        "",
                        f"{len(missing)} leaves of {group.name} "
                        f"get no BGP path to {origin}'s prefixes ({pfx}): {', '.join(missing[:5])}"
                        + (" ..." if len(missing) > 5 else ""),
                    )
                )
    return out


def _propagate(origin: str, adj: dict[str, list[str]], asn: dict[str, str]) -> set[str]:
    """Devices that learn a route originated at `origin` (breadth first: shortest AS paths)."""
    path: dict[str, tuple[str, ...]] = {origin: (asn[origin],)}
    todo = deque([origin])
    while todo:
        x = todo.popleft()
        for y in adj.get(x, ()):
            if y in path or asn[y] in path[x]:
                continue
            path[y] = path[x] + (asn[y],)
            todo.append(y)
    return set(path)
