"""Web app figures: plan latency through the API, first paint of the topology in headless chromium
for the 256-GPU and the 32,768-GPU examples, and the server's memory with 20 designs in its workspace.

Targets: first paint < 1 s (256 GPUs) and < 3 s (32,768 GPUs) on this machine.
Run: .venv/bin/python benchmarks/serve_paint.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web_server import running_server  # noqa: E402


def post(url: str, body: dict) -> tuple[int, float]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()
        return r.status, time.perf_counter() - t0


def server_rss_mib(port_url: str) -> float:
    """RSS of the process listening on the URL's port (the server), from /proc."""
    import subprocess

    port = port_url.rsplit(":", 1)[1]
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    pid = out.split("pid=")[1].split(",")[0]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from playwright.sync_api import sync_playwright

    ws = Path(tempfile.mkdtemp(prefix="tokenfab-serve-bench-")) / "ws"
    with running_server(ws) as url:
        figures = {}
        for name, example in (("ex-256", "rail-optimized-256.yaml"), ("ex-32k", "three-tier-32k.yaml")):
            text = (ROOT / "examples" / example).read_text()
            status, dt = post(url + "/api/designs", {"name": name, "intent_yaml": text})
            figures[f"plan via API, {name}"] = f"{dt:.2f} s (HTTP {status})"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url + "/")  # warm: the vendored scripts are cached as a returning user has them
            page.wait_for_selector("h1")
            for name in ("ex-256", "ex-32k"):
                best = []
                for _ in range(3):
                    page.goto("about:blank")
                    t0 = time.perf_counter()
                    page.goto(f"{url}/#/design/{name}/topology")
                    page.wait_for_function(
                        "window.__cy && window.__cy.nodes().length > 0 && document.querySelector('#cy canvas') !== null"
                    )
                    best.append(time.perf_counter() - t0)
                nodes = page.evaluate("window.__cy.nodes().length")
                figures[f"first paint of the topology, {name}"] = (
                    f"{min(best):.2f} s (median {sorted(best)[1]:.2f} s, {nodes} nodes drawn)"
                )
            browser.close()
        for i in range(18):
            servers = 16 + 8 * i
            post(
                url + "/api/designs",
                {"name": f"d{i:02d}", "intent_yaml": f"name: d{i:02d}\ncluster: {{servers: {servers}, gpus_per_server: 8}}\n"},
            )
        t0 = time.perf_counter()
        with urllib.request.urlopen(url + "/api/designs", timeout=60) as r:
            listed = len(json.loads(r.read()))
        figures["list 20 designs"] = f"{time.perf_counter() - t0:.3f} s ({listed} designs)"
        figures["server memory with 20 designs"] = f"{server_rss_mib(url):.0f} MiB RSS"
    for k, v in figures.items():
        print(f"{k:<45} {v}")


if __name__ == "__main__":
    main()
