"""Namespaces, veth pairs and addresses, with iproute2 in batches (one `ip` process per step or
per namespace, not one per interface). Veth pairs are created with both ends directly inside
their namespaces under their final names, so no interface ever appears in the host namespace.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tokenfab.twin.layout import Node, Wire

NETNS_DIR = Path("/run/netns")
WORKERS = 4

# Per-namespace kernel settings of a switch: routing on, ECMP hashing on L4 ports (RoCEv2 flows
# differ in UDP source port), no reverse-path filter (ECMP paths are asymmetric), and no routes
# over a nexthop whose link is down.
SWITCH_SYSCTLS = {
    "net.ipv4.ip_forward": 1,
    "net.ipv6.conf.all.forwarding": 1,
    "net.ipv4.fib_multipath_hash_policy": 1,
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
    "net.ipv4.conf.all.ignore_routes_with_linkdown": 1,
    "net.ipv4.conf.default.ignore_routes_with_linkdown": 1,
}
# A server with one NIC per rail: each NIC answers ARP only for its own address.
SERVER_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
    "net.ipv4.conf.all.arp_ignore": 1,
    "net.ipv4.conf.all.arp_announce": 2,
}


class IpError(RuntimeError):
    pass


def run(args: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise IpError(f"{' '.join(args[:6])}: {(r.stderr or r.stdout).strip()[:500]}")
    return r


def batch(lines: Iterable[str], netns: str | None = None, force: bool = False) -> subprocess.CompletedProcess:
    args = ["ip"] + (["-n", netns] if netns else []) + (["-force"] if force else []) + ["-batch", "-"]
    return run(args, "".join(f"{line}\n" for line in lines), check=not force)


def parallel(fn, items: list, workers: int = WORKERS) -> list:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def inode(name: str) -> int:
    """The namespace's identity: the nsfs inode behind /run/netns/NAME (0 if gone)."""
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return 0


def add_namespaces(names: list[str]) -> None:
    batch(f"netns add {n}" for n in names)


def delete_namespaces(names: list[str]) -> None:
    if names:
        batch((f"netns del {n}" for n in names), force=True)


def set_sysctls(netns: str, values: dict[str, int]) -> None:
    run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *(f"{k}={v}" for k, v in values.items())])


def add_wires(wires: list[Wire], ns_of: dict[str, str]) -> None:
    batch(f"link add {w.a_port} netns {ns_of[w.a]} type veth peer name {w.b_port} netns {ns_of[w.b]}" for w in wires)


def stub_kind(netns: str) -> str:
    """`dummy` where the kernel has it, else `ifb` (also a carrier-up, traffic-free netdev).
    Probed inside one of the twin's own namespaces."""
    for kind in ("dummy", "ifb"):
        if run(["ip", "-n", netns, "link", "add", "tfprobe0", "type", kind], check=False).returncode == 0:
            run(["ip", "-n", netns, "link", "del", "tfprobe0"], check=False)
            return kind
    raise IpError("the kernel offers neither dummy nor ifb interfaces (needed for Loopback0)")


def node_commands(node: Node, stub: str) -> list[str]:
    """ip batch lines that give a node its interfaces, addresses and (servers) routes."""
    lines = ["link set lo up"]
    ports = node.ports.values()
    for p in ports:
        if p.kind in ("loopback", "stub"):
            lines.append(f"link add {p.name} type {stub}")
        elif p.kind == "bridge":
            lines.append(f"link add {p.name} type bridge")
    for p in ports:
        if p.kind != "bridge":
            lines.append(f"link set {p.name} mtu {p.mtu}" + (f" master {p.master}" if p.master else ""))
    for p in ports:
        if p.kind == "bridge":
            lines.append(f"link set {p.name} mtu {p.mtu}")
        lines += [f"addr add {a} dev {p.name}" for a in p.addrs]
    lines += [f"link set {p.name} up" for p in ports if p.admin_up]
    for src, gateway, dev, table in node.routes:
        net = next(a for a in node.ports[dev].addrs if a.startswith(src + "/"))
        lines += [
            f"rule add from {src} table {table}",
            f"route add {_network(net)} dev {dev} src {src} table {table}",
            f"route add default via {gateway} dev {dev} table {table}",
        ]
    return lines


def _network(iface: str) -> str:
    return str(ipaddress.IPv4Interface(iface).network)


def configure_node(netns: str, node: Node, stub: str) -> None:
    batch(node_commands(node, stub), netns=netns)


SILENT_RULE = "pref 1 blackhole"


def silence(netns: str, on: bool) -> None:
    """A hard-failed switch: its links stay lit but nothing it sends leaves (a policy rule ahead of
    the main table drops every packet the namespace would route). Killed daemons then cannot
    close their TCP sessions, so neighbours notice only when their hold timer expires, as with a
    switch whose control plane died. (The kernel here has no tc classifiers or netfilter.)"""
    run(["ip", "-n", netns, "rule", "add" if on else "del", *SILENT_RULE.split()], check=on)


def set_ports(changes: dict[str, list[tuple[str, bool]]]) -> None:
    """{netns: [(port, up), ...]}: admin state of ports, one batch per namespace."""

    def apply(item):
        ns, ports = item
        batch((f"link set {p} {'up' if up else 'down'}" for p, up in ports), netns=ns)

    parallel(apply, list(changes.items()))
