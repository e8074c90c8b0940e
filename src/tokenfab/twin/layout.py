"""What the twin boots, read from `configure`'s output folder: pure, no side effects.

    OUT/fabric.json                        the plan: devices, cabling, expectations
    OUT/configs/<hostname>/config_db.json  SONiC CONFIG_DB: ports, addresses, VLANs, BGP neighbours
    OUT/configs/<hostname>/frr.conf        FRR config (what bgpcfgd renders)

Every switch becomes a node (one network namespace), every cabled switch-switch link a veth
pair named with SONiC's port names on both ends. Addresses come from each config_db.json, as
SONiC's intfmgrd would put them on the kernel's interfaces; FRR learns them from the kernel.
Ports that carry an address or a VLAN but are cabled to something not booted (a server) become
stub interfaces with carrier, as if the server were plugged in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.fileio import load_json

IFNAMSIZ = 15  # longest Linux interface name (16 bytes with the NUL)


@dataclass
class Port:
    name: str
    kind: str  # veth | stub | bridge | loopback
    addrs: list[str] = field(default_factory=list)  # "a.b.c.d/len"
    mtu: int = 9100
    master: str = ""  # bridge (VLAN) this port is a member of
    admin_up: bool = True


@dataclass
class Neighbor:
    peer_ip: str
    asn: int
    name: str  # the peer's hostname as configured (description)
    local_addr: str
    holdtime_s: int
    keepalive_s: int


@dataclass
class Node:
    host: str
    role: str  # leaf | spine | core | server
    asn: int
    loopback: str  # router id / Loopback0 address ("" for servers)
    ports: dict[str, Port] = field(default_factory=dict)
    neighbors: dict[str, Neighbor] = field(default_factory=dict)
    routes: list[tuple[str, str, str, int]] = field(default_factory=list)  # servers: (src, gateway, dev, table)
    config_dir: Path | None = None  # configs/<hostname> (switches)

    @property
    def is_switch(self) -> bool:
        return self.role != "server"

    def port_for(self, ip: str) -> str:
        """The port whose subnet holds `ip` ("" when none)."""
        addr = ipaddress.IPv4Address(ip)
        for p in self.ports.values():
            for a in p.addrs:
                if addr in ipaddress.IPv4Interface(a).network:
                    return p.name
        return ""


@dataclass
class Wire:
    """One cabled link booted as a veth pair."""

    row: int  # row in fabric.links
    a: str
    a_port: str
    b: str
    b_port: str
    kind: str

    @property
    def id(self) -> str:
        return f"{self.a}:{self.a_port}--{self.b}:{self.b_port}"


@dataclass
class Layout:
    fabric: Fabric
    nodes: dict[str, Node]
    wires: list[Wire]
    source: Path

    @property
    def switches(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_switch]

    @property
    def servers(self) -> list[Node]:
        return [n for n in self.nodes.values() if not n.is_switch]

    def wires_of(self, host: str) -> list[Wire]:
        return [w for w in self.wires if host in (w.a, w.b)]

    def wire_at(self, host: str, port: str) -> Wire | None:
        for w in self.wires:
            if (w.a, w.a_port) == (host, port) or (w.b, w.b_port) == (host, port):
                return w
        return None

    def sessions(self) -> list[tuple[str, Neighbor, Wire | None]]:
        """Every configured BGP session end: (host, neighbour, the wire it runs over or None)."""
        out = []
        for n in self.switches:
            for nb in n.neighbors.values():
                port = n.port_for(nb.peer_ip) or (n.port_for(nb.local_addr) if nb.local_addr else "")
                out.append((n.host, nb, self.wire_at(n.host, port) if port else None))
        return out


def _str_int(value, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number as a string, got {value!r}") from None


def _prefixes(table: dict, where: str) -> dict[str, list[str]]:
    """{"Ethernet0|10.1.0.1/31": {}} -> {"Ethernet0": ["10.1.0.1/31"]}; IPv6 entries are skipped
    (the twin runs IPv4 BGP)."""
    out: dict[str, list[str]] = {}
    for key in table:
        name, sep, prefix = key.partition("|")
        if not sep:
            out.setdefault(name, [])
            continue
        try:
            iface = ipaddress.ip_interface(prefix)
        except ValueError:
            raise InputError(f"{where}: key {key!r} does not end in an address/length") from None
        if iface.version == 4:
            out.setdefault(name, []).append(str(iface))
    return out


def read_config_db(path: Path, host: str) -> dict:
    db = load_json(path, "config")
    meta = db.get("DEVICE_METADATA", {}).get("localhost", {})
    if meta.get("hostname") != host:
        raise InputError(
            f"{path}: DEVICE_METADATA.localhost.hostname is {meta.get('hostname')!r}, expected {host!r} (the folder's name)"
        )
    return db


def _switch_node(host: str, role: str, cfg_dir: Path, db: dict) -> Node:
    where = str(cfg_dir / "config_db.json")
    meta = db["DEVICE_METADATA"]["localhost"]
    asn = _str_int(meta.get("bgp_asn"), f"{where}: DEVICE_METADATA.localhost.bgp_asn")
    loops = _prefixes(db.get("LOOPBACK_INTERFACE", {}), f"{where}: LOOPBACK_INTERFACE")
    lo_addrs = loops.get("Loopback0", [])
    router_id = meta.get("bgp_router_id") or (lo_addrs[0].split("/")[0] if lo_addrs else "")
    node = Node(host, role, asn, router_id, config_dir=cfg_dir)
    ports_table = db.get("PORT", {})

    def port(name: str, kind: str) -> Port:
        if len(name) > IFNAMSIZ:
            raise InputError(f"{where}: interface name {name!r} is longer than {IFNAMSIZ} characters")
        if name not in node.ports:
            p = ports_table.get(name, {})
            mtu = _str_int(p.get("mtu", "9100"), f"{where}: PORT.{name}.mtu")
            node.ports[name] = Port(name, kind, mtu=mtu, admin_up=p.get("admin_status", "up") == "up")
        return node.ports[name]

    for name, addrs in loops.items():
        port(name, "loopback").addrs += addrs
    for name, addrs in _prefixes(db.get("INTERFACE", {}), f"{where}: INTERFACE").items():
        if name not in ports_table:
            raise InputError(f"{where}: INTERFACE names port {name!r}, which is not in PORT")
        port(name, "stub").addrs += addrs
    vlan_addrs = _prefixes(db.get("VLAN_INTERFACE", {}), f"{where}: VLAN_INTERFACE")
    for vlan in db.get("VLAN", {}):
        p = port(vlan, "bridge")
        p.mtu = _str_int(db["VLAN"][vlan].get("mtu", "9100"), f"{where}: VLAN.{vlan}.mtu")
        p.addrs += vlan_addrs.get(vlan, [])
    for key in db.get("VLAN_MEMBER", {}):
        vlan, _, member = key.partition("|")
        if vlan not in node.ports:
            raise InputError(f"{where}: VLAN_MEMBER {key!r} names VLAN {vlan!r}, which is not in VLAN")
        port(member, "stub").master = vlan
    for key, nb in db.get("BGP_NEIGHBOR", {}).items():
        ip = key.split("|")[-1]
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            continue  # IPv6 sessions are not booted
        node.neighbors[ip] = Neighbor(
            ip,
            _str_int(nb.get("asn"), f"{where}: BGP_NEIGHBOR.{key}.asn"),
            nb.get("name", ""),
            nb.get("local_addr", ""),
            _str_int(nb.get("holdtime", "180"), f"{where}: BGP_NEIGHBOR.{key}.holdtime"),
            _str_int(nb.get("keepalive", "60"), f"{where}: BGP_NEIGHBOR.{key}.keepalive"),
        )
    return node


def pick_servers(fabric: Fabric, count: int) -> list[str]:
    """`count` servers spread over scalable units (first server of every unit, then the second...)."""
    servers = [d for d in fabric.iter_devices("server")]
    by_su: dict[int, list[str]] = {}
    for d in servers:
        by_su.setdefault(d.su, []).append(d.name)
    order = []
    depth = max((len(v) for v in by_su.values()), default=0)
    for i in range(depth):
        for su in sorted(by_su):
            if i < len(by_su[su]):
                order.append(by_su[su][i])
    return order[:count]


def load(out: Path, servers: int = 0, configs: Path | None = None) -> Layout:
    """Read OUT (configure's output folder) into the nodes and wires the twin boots.
    `configs` overrides OUT/configs (the twin reads its own copies from its state folder)."""
    out = Path(out)
    fabric = Fabric.load(out)
    cfg_root = configs or out / "configs"
    if not cfg_root.is_dir():
        raise InputError(f"{out} has no configs/ folder: run `tokenfab configure {out}` first")
    nodes: dict[str, Node] = {}
    missing = []
    for d in fabric.iter_devices():
        if d.role == "server":
            continue
        cfg_dir = cfg_root / d.name
        if not (cfg_dir / "config_db.json").is_file() or not (cfg_dir / "frr.conf").is_file():
            missing.append(d.name)
            continue
        nodes[d.name] = _switch_node(d.name, d.role, cfg_dir, read_config_db(cfg_dir / "config_db.json", d.name))
    if missing:
        raise InputError(
            f"{cfg_root}: no config_db.json and frr.conf for {len(missing)} switch(es): {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}"
        )
    if servers < 0:
        raise InputError(f"servers: expected 0 or more, got {servers}")
    booted_servers = set(pick_servers(fabric, servers))
    for name in sorted(booted_servers, key=lambda n: fabric.index[n]):
        nodes[name] = Node(name, "server", 0, "")

    wires = [
        Wire(i, link.a, link.a_port, link.b, link.b_port, link.kind)
        for i, link in enumerate(fabric.iter_links())
        if link.a in nodes and link.b in nodes
    ]
    for w in wires:
        for host, port in ((w.a, w.a_port), (w.b, w.b_port)):
            n = nodes[host]
            if len(port) > IFNAMSIZ:
                raise InputError(f"{host}: port name {port!r} is longer than {IFNAMSIZ} characters")
            if port in n.ports:
                n.ports[port].kind = "veth"
            else:
                n.ports[port] = Port(port, "veth")
    for n in nodes.values():
        if n.is_switch and "Loopback0" not in n.ports:
            raise InputError(f"{n.config_dir}/config_db.json: no LOOPBACK_INTERFACE Loopback0 address (BGP needs a router id)")
    _server_addresses(fabric, nodes)
    _trim_stubs(nodes)
    return Layout(fabric, nodes, wires, out)


def _server_addresses(fabric: Fabric, nodes: dict[str, Node]) -> None:
    """Booted servers: each NIC gets its planned address; source-based routing sends traffic from a
    NIC's address out of that NIC to its leaf (one routing table per NIC), as on rail hosts."""
    gw_of = {
        fabric.devices["name"][leaf]: gw for leaf, gw in zip(fabric.subnets["leaf"].tolist(), fabric.subnets["gateway"].tolist())
    }
    for link in fabric.iter_links("nic"):
        if link.a not in nodes or link.b not in nodes:
            continue
        srv = nodes[link.a]
        srv.ports[link.a_port].addrs.append(f"{link.a_ip}/{link.prefix_len}")
        srv.ports[link.a_port].mtu = nodes[link.b].ports[link.b_port].mtu
        gateway = gw_of.get(link.b) or link.b_ip
        srv.routes.append((link.a_ip, gateway, link.a_port, 100 + len(srv.routes)))


def _trim_stubs(nodes: dict[str, Node]) -> None:
    """Keep a stub port only where it matters: it carries an address, or it is the one member
    that gives a VLAN without booted servers its carrier."""
    for n in nodes.values():
        if not n.is_switch:
            continue
        carried = {p.master for p in n.ports.values() if p.kind == "veth" and p.master}
        keep = {}
        for name, p in n.ports.items():
            if p.kind == "stub" and not p.addrs:
                if not p.master or p.master in carried:
                    continue
                carried.add(p.master)
            keep[name] = p
        n.ports = keep
