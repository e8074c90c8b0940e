"""The running twin as a telemetry source: real interface counters and real BGP state.

Each sample reads, per switch namespace, `ip -s -j link` (octets, errors, drops, oper state; the
veths' own kernel counters) and the carrier-change count from sysfs inside the namespace, and asks
that switch's bgpd `show bgp neighbors json` (state, connectionsEstablished) and zebra `show ip
route json` (routes, BGP routes and their ECMP widths: `devices()`) over its vty sockets.
Rows go through the same `ingest` as stored telemetry, so the schema is the factory source's. A veth
has no PHY: FEC, pre-FEC BER, DOM, PFC and queue columns stay empty (absent, not zero).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tokenfab.errors import InputError
from tokenfab.operate.counters import METRICS
from tokenfab.operate.telemetry import Ports, Telemetry, ingest

COLUMNS = (
    "in_octets",
    "out_octets",
    "in_errors",
    "in_discards",
    "out_discards",
    "oper_up",
    "carrier_transitions",
    "bgp_established",
    "bgp_established_transitions",
)


class TwinSampler:
    def __init__(self, name: str | None, state_dir: Path | None = None):
        from tokenfab.twin import layout as lay
        from tokenfab.twin.state import find, state_root

        self.twin = find(state_root(state_dir), name)
        rec = self.twin.load()
        self.layout = lay.load(self.twin.dir, rec.get("servers", 0), configs=self.twin.dir / "nodes")
        self.ports = Ports.of(self.layout.fabric)
        self.rows: list[dict] = []
        self.device_rows: list[dict] = []
        # BGP neighbour address -> (switch, port) through the port holding the session's local address
        self.session_port: dict[tuple[str, str], str] = {}
        for node in self.layout.switches:
            by_addr = {a.split("/")[0]: p.name for p in node.ports.values() for a in p.addrs}
            for ip, nb in node.neighbors.items():
                if nb.local_addr in by_addr:
                    self.session_port[(node.host, ip)] = by_addr[nb.local_addr]

    def _links(self, host: str) -> dict[str, dict]:
        ns = self.twin.netns(host)
        r = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise InputError(f"twin {self.twin.name}: cannot read {host}'s interfaces ({r.stderr.strip()})")
        out = {d["ifname"]: d for d in json.loads(r.stdout or "[]")}
        c = subprocess.run(
            ["ip", "netns", "exec", ns, "sh", "-c", 'for f in /sys/class/net/*/carrier_changes; do echo "$f $(cat $f)"; done'],
            capture_output=True,
            text=True,
            timeout=30,
        )
        for line in c.stdout.splitlines():
            path, _, val = line.partition(" ")
            ifname = path.split("/")[-2]
            if ifname in out and val.strip().isdigit():
                out[ifname]["carrier_changes"] = int(val)
        return out

    def _bgp(self, host: str) -> dict:
        from tokenfab.twin import frr

        try:
            return frr.vty_json(self.twin.node_dir(host), "bgpd", "show bgp neighbors json")
        except Exception:  # a dead or silenced bgpd: its sessions read as not established
            return {}

    def _routes(self, host: str, now: float) -> None:
        """FRR's route state of one switch (zebra's `show ip route json` through the twin's observer)."""
        from tokenfab.twin import observe

        v = observe.node(host, self.twin.node_dir(host), with_routes=True)
        bgp = [w for proto, w in v.routes.values() if proto == "bgp"]
        self.device_rows.append(
            {
                "time_s": now,
                "device": host,
                "zebra_up": v.zebra,
                "bgpd_up": v.bgpd,
                "routes": len(v.routes),
                "bgp_routes": len(bgp),
                "max_ecmp": max(bgp, default=0),
                "min_ecmp": min(bgp, default=0),
                "error": v.error,
            }
        )

    def devices(self):
        """Route state per switch and sample (pyarrow Table): daemons up, routes, BGP routes, ECMP widths."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.device_rows)

    def sample(self) -> None:
        now = time.time()
        for node in self.layout.switches:
            links = self._links(node.host)
            bgp = self._bgp(node.host)
            self._routes(node.host, now)
            sessions = {}
            for ip, s in bgp.items():
                port = self.session_port.get((node.host, ip))
                if port is not None and isinstance(s, dict):
                    sessions[port] = (1.0 if s.get("bgpState") == "Established" else 0.0, int(s.get("connectionsEstablished", 0)))
            for port, d in links.items():
                st = d.get("stats64", {})
                rx, tx = st.get("rx", {}), st.get("tx", {})
                est, trans = sessions.get(port, (None, None))
                self.rows.append(
                    {
                        "time_s": now,
                        "device": node.host,
                        "port": port,
                        "in_octets": rx.get("bytes"),
                        "out_octets": tx.get("bytes"),
                        "in_errors": rx.get("errors"),
                        "in_discards": rx.get("dropped"),
                        "out_discards": tx.get("dropped"),
                        "oper_up": 1.0 if d.get("operstate") in ("UP", "UNKNOWN") and "LOWER_UP" in d.get("flags", []) else 0.0,
                        "carrier_transitions": d.get("carrier_changes"),
                        "bgp_established": est,
                        "bgp_established_transitions": trans,
                    }
                )

    def telemetry(self) -> Telemetry:
        import pyarrow as pa

        kinds = {m.name: m.kind for m in METRICS}
        cols = {
            "time_s": pa.array([r["time_s"] for r in self.rows], pa.float64()),
            "device": pa.array([r["device"] for r in self.rows]),
            "port": pa.array([r["port"] for r in self.rows]),
        }
        for c in COLUMNS:
            cols[c] = pa.array([r[c] for r in self.rows], pa.uint64() if kinds[c] == "counter" else pa.float64())
        tel = ingest(pa.table(cols), self.ports)
        # the twin's own non-port interfaces (lo, Loopback0, VLANs, bridges) are not fabric ports
        tel.warnings = [w for w in tel.warnings if not w.startswith("unknown ports") and not w.startswith("columns absent")]
        return tel


def sample_twin(name: str | None, samples: int = 2, interval_s: float = 2.0, state_dir: Path | None = None) -> Telemetry:
    s = TwinSampler(name, state_dir)
    for k in range(samples):
        s.sample()
        if k + 1 < samples:
            time.sleep(interval_s)
    return s.telemetry()


__all__ = ["TwinSampler", "sample_twin"]
