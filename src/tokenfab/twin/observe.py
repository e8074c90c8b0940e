"""What the twin shows right now: per switch, its daemons, BGP sessions and (leaves) routes,
read from FRR's JSON over the vty sockets, in parallel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tokenfab.twin import frr


@dataclass
class Session:
    state: str
    uptime_ms: int
    pfx_rcvd: int
    hostname: str = ""


@dataclass
class NodeView:
    host: str
    zebra: bool = False
    bgpd: bool = False
    sessions: dict[str, Session] = field(default_factory=dict)  # peer ip -> session
    routes: dict[str, tuple[str, int]] = field(default_factory=dict)  # prefix -> (protocol, FIB nexthops)
    error: str = ""

    @property
    def established(self) -> int:
        return sum(s.state == "Established" for s in self.sessions.values())


def _sessions(data: dict) -> dict[str, Session]:
    peers = data.get("ipv4Unicast", data).get("peers", {})  # both shapes FRR 8 prints
    out = {}
    for ip, p in peers.items():
        out[ip] = Session(
            p.get("state", "?"), int(p.get("peerUptimeMsec", 0)), int(p.get("pfxRcd", 0) or 0), p.get("hostname", "")
        )
    return out


def _routes(data: dict) -> dict[str, tuple[str, int]]:
    out = {}
    for prefix, entries in data.items():
        for r in entries:
            if r.get("selected"):
                out[prefix] = (r.get("protocol", "?"), sum(1 for nh in r.get("nexthops", []) if nh.get("fib")))
    return out


def node(host: str, node_dir: Path, with_routes: bool) -> NodeView:
    v = NodeView(host, zebra=bool(frr.pid_of(node_dir, "zebra")), bgpd=bool(frr.pid_of(node_dir, "bgpd")))
    try:
        if v.bgpd:
            v.sessions = _sessions(frr.vty_json(node_dir, "bgpd", "show bgp ipv4 unicast summary json"))
        if v.zebra and with_routes:
            v.routes = _routes(frr.vty_json(node_dir, "zebra", "show ip route json"))
    except frr.FrrError as exc:
        v.error = str(exc)
    return v


def fabric(node_dirs: dict[str, Path], route_hosts: set[str], workers: int = 8) -> dict[str, NodeView]:
    """Views of all nodes; routes only for `route_hosts` (leaves), which is all the check needs."""
    hosts = list(node_dirs)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        views = pool.map(lambda h: node(h, node_dirs[h], h in route_hosts), hosts)
        return dict(zip(hosts, views))
