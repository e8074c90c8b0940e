"""Prometheus exposition of the latest telemetry sample (prometheus-client), on an HTTP endpoint.

Metric names are `tokenfab_port_<column>` (counters end in `_total`), labelled with device, port,
peer and link; the SONiC field each comes from is in its HELP text. A real Prometheus server
scrapes `/metrics` (tests/test_operate_prometheus.py starts Debian's prometheus against it).
"""

from __future__ import annotations

import threading

import numpy as np

from tokenfab.operate.counters import METRICS
from tokenfab.operate.telemetry import Telemetry


class TelemetryCollector:
    """Serves sample `k` of a Telemetry; `show(tel, k)` moves it (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tel: Telemetry | None = None
        self._k = -1

    def show(self, tel: Telemetry, k: int) -> None:
        with self._lock:
            self._tel, self._k = tel, k

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self._lock:
            tel, k = self._tel, self._k
        if tel is None or k < 0:
            return
        P = tel.ports
        labels = ["device", "port", "peer", "link"]
        lv = [list(r) for r in zip(P.device.astype(str).tolist(), P.port.astype(str).tolist(),
                                    P.peer.astype(str).tolist(), P.link_id.astype(str).tolist())]
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


def exposition(tel: Telemetry, k: int) -> bytes:
    """The text exposition of sample k (what /metrics returns)."""
    from prometheus_client import CollectorRegistry, generate_latest

    c = TelemetryCollector()
    c.show(tel, k)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    return generate_latest(reg)
