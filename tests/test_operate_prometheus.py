"""A real Prometheus (Debian's `prometheus`) scrapes the operate exporter; a counter comes back
through Prometheus's HTTP API. Loopback only, temporary config and storage, bounded in time."""

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from tokenfab import load_intent, plan
from tokenfab.operate.prom import TelemetryCollector, serve
from tokenfab.operate.scenario import generate, random_jobs

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_prometheus_scrapes_the_exporter(tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is missing: run `make sysdeps` (apt-packages.txt lists it)"
    fabric = plan(load_intent(ROOT / "examples" / "rail-only-128.yaml"))
    jobs = random_jobs(fabric, np.random.default_rng(2), 1)
    tel = generate(fabric, jobs, [], hours=1, seed=2).telemetry
    collector = TelemetryCollector()
    collector.show(tel, 30)
    server, _ = serve(collector, 0)
    prom = None
    try:
        port = server.server_port
        web = _free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: tokenfab\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        prom = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{web}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.log").open("w"),
        )
        dev, prt = str(tel.ports.device[0]), str(tel.ports.port[0])
        q = urllib.parse.quote(f'tokenfab_port_in_octets_total{{device="{dev}",port="{prt}"}}')
        deadline = time.monotonic() + 60
        result = []
        while time.monotonic() < deadline and not result:
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            try:
                result = _get(f"http://127.0.0.1:{web}/api/v1/query?query={q}")["data"]["result"]
            except OSError:
                pass
            if not result:
                time.sleep(0.5)
        assert result, "Prometheus never scraped the endpoint: " + (tmp_path / "prometheus.log").read_text()[-2000:]
        (series,) = result
        assert series["metric"]["job"] == "tokenfab" and series["metric"]["link"] == str(tel.ports.link_id[0])
        assert float(series["value"][1]) == float(tel.values["in_octets"][30, 0])
        targets = _get(f"http://127.0.0.1:{web}/api/v1/targets")["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"]
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        server.shutdown()
        server.server_close()
