"""Prometheus exposition of the latest telemetry sample (prometheus-client), on an HTTP endpoint.

Metric names are `tokenfab_port_<column>` (counters end in `_total`), labelled with device, port,
peer and link; the SONiC field each comes from is in its HELP text. A twin adds its switches' route
state as `tokenfab_device_<routes|bgp_routes|max_ecmp|min_ecmp>`. A real Prometheus server
scrapes `/metrics` (tests/test_operate_prometheus.py starts Debian's prometheus against it).
"""

from __future__ import annotations

import threading

import numpy as np

from tokenfab.operate.counters import METRICS
from tokenfab.operate.telemetry import Telemetry

DEVICE_GAUGES = (
    ("routes", "routes in the FIB (FRR zebra show ip route json)"),
    ("bgp_routes", "BGP routes selected"),
    ("max_ecmp", "widest ECMP group among BGP routes"),
    ("min_ecmp", "narrowest ECMP group among BGP routes"),
)


class TelemetryCollector:
    """Serves sample `k` of a Telemetry; `show(tel, k)` moves it (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tel: Telemetry | None = None
        self._k = -1
        self._devices: list[dict] = []

    def show(self, tel: Telemetry, k: int, devices: list[dict] | None = None) -> None:
        """Serve sample k; `devices`: per-switch route state rows (the twin source's `devices()`)."""
        with self._lock:
            self._tel, self._k, self._devices = tel, k, devices or []

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self._lock:
            tel, k, devices = self._tel, self._k, self._devices
        if tel is None or k < 0:
            return
        for col, help_ in DEVICE_GAUGES:
            fam = GaugeMetricFamily(f"tokenfab_device_{col}", help_, labels=["device"])
            for row in devices:
                fam.add_metric([str(row["device"])], float(row[col]))
            if devices:
                yield fam
        P = tel.ports
        labels = ["device", "port", "peer", "link"]
        lv = [
            list(r)
            for r in zip(
                P.device.astype(str).tolist(),
                P.port.astype(str).tolist(),
                P.peer.astype(str).tolist(),
                P.link_id.astype(str).tolist(),
            )
        ]
        ts = float(tel.t_s[k])
        for m in METRICS:
            col = tel.values[m.name][k]
            help_ = f"{m.help} [{m.unit}] (SONiC {m.sonic}; OpenConfig {m.openconfig or '-'})"
            if m.kind == "counter":
                fam = CounterMetricFamily(f"tokenfab_port_{m.name}", help_, labels=labels)
                valid = tel.valid.get(m.name)
                for p in range(len(P)):
                    if valid is None or valid[k, p]:
                        fam.add_metric(lv[p], float(col[p]))
            else:
                fam = GaugeMetricFamily(f"tokenfab_port_{m.name}", help_, labels=labels)
                for p in np.flatnonzero(np.isfinite(col)).tolist():
                    fam.add_metric(lv[p], float(col[p]))
            yield fam
        yield GaugeMetricFamily("tokenfab_sample_time_seconds", "time of the sample served (source clock)", value=ts)


def serve(collector: TelemetryCollector, port: int, addr: str = "127.0.0.1"):
    """Start the endpoint; returns (server, thread) - call server.shutdown() to stop it."""
    from prometheus_client import CollectorRegistry, start_http_server

    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return start_http_server(port, addr=addr, registry=reg)


def exposition(tel: Telemetry, k: int, devices: list[dict] | None = None) -> bytes:
    """The text exposition of sample k (what /metrics returns)."""
    from prometheus_client import CollectorRegistry, generate_latest

    c = TelemetryCollector()
    c.show(tel, k, devices)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    return generate_latest(reg)
