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
- lossless and ecn: configure/lossless.py.
- reach: every planned NIC has its address, its leaf port is up and in the VLAN (or /31) whose
  gateway the host routes through, its subnet is advertised in the leaf's frr.conf, and every leaf
  learns every other leaf's prefixes that the plan says it must reach (a BGP path over mirrored
  sessions with no AS repeated, as eBGP's loop check requires).
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict, deque
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


def int_list(text: str) -> list[int]:
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
def reach(fabric: Fabric, configs: dict[str, dict], advertised: dict[str, list[str]], hosts: dict[str, Host]) -> list[Violation]:
    out: list[Violation] = []
    serves: dict[str, dict[str, list]] = {}  # leaf -> port -> the (ip/len, network) that answer on it
    nets: dict[str, list] = {}  # leaf -> the networks it advertises
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
        if leaf not in serves:
            serves[leaf] = _l3_by_port(cfg)
        serving = [x for x, net in serves[leaf].get(port, ()) if net is not None and nic_if.ip in net]
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
        if leaf not in nets:
            nets[leaf] = [n for n in map(_network, advertised.get(leaf, [])) if n is not None]
        if not any(nic_if.ip in n for n in nets[leaf]):
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


def _network(prefix: str):
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:  # an edited frr.conf: its own check says what is wrong
        return None


def _l3_by_port(cfg: dict) -> dict[str, list]:
    """port -> the (ip/len, its network or None when unreadable) a switch answers on at that port:
    its /31s, and the VLAN interfaces of the VLANs the port is a member of."""
    out: dict[str, list] = defaultdict(list)

    def net(pfx: str):
        try:
            return ipaddress.ip_interface(pfx).network
        except ValueError:  # YANG says what is wrong with it
            return None

    for key in cfg.get("INTERFACE", {}):
        port, sep, pfx = key.partition("|")
        if sep:
            out[port].append((pfx, net(pfx)))
    by_vlan: dict[str, list] = defaultdict(list)
    for key in cfg.get("VLAN_INTERFACE", {}):
        vlan, sep, pfx = key.partition("|")
        if sep:
            by_vlan[vlan].append((pfx, net(pfx)))
    for key in cfg.get("VLAN_MEMBER", {}):
        vlan, _, port = key.partition("|")
        out[port] += by_vlan.get(vlan, [])
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
