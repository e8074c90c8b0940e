"""REST API and web page: the same plan as the CLI and the library, the same errors, and a page that
shows that plan (rendered by a real Chromium)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from tests.conftest import EXAMPLES
from tokenfab import load_intent, parse_intent, plan
from tokenfab.report import plan_files
from tokenfab.server.app import app

client = TestClient(app)
INTENT = "cluster: {servers: 64, gpus_per_server: 4}\nfabric: {architecture: rail-optimized}\n"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium (apt-packages.txt)


def test_plan_returns_what_the_library_plans():
    r = client.post("/api/plan", json=INTENT)
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"leafs": 4, "servers": 64, "spines": 2, "leaf-spine links": 128, "nic links": 256}
    rows = {(b["category"], b["model"]): b["count"] for b in body["bom"]}
    assert rows[("switch", "CX864E-N")] == 6 and rows[("nic", "ConnectX-7")] == 256 and rows[("server", "H100-4")] == 64
    for b in body["bom"]:
        assert b["total_price_usd"] == pytest.approx(b["count"] * b["unit_price_usd"])
    assert body["totals"]["price_usd"] == pytest.approx(sum(b["total_price_usd"] for b in body["bom"]))
    # the very numbers the library gives for the same intent
    fabric = plan(parse_intent(yaml.safe_load(INTENT)))
    assert body["counts"] == fabric.counts()
    assert body["expectations"]["bgp_sessions"] == fabric.expectations["bgp_sessions"] == 128


@pytest.mark.parametrize("name", ["fabric.json", "bom.csv", "cabling.csv", "ip-plan.csv", "topology.svg"])
def test_plan_files_are_the_cli_files(name):
    """The API's files for an example intent are byte for byte what `tokenfab plan` writes."""
    text = (EXAMPLES / "rail-only-128.yaml").read_text()
    r = client.post(f"/api/plan/files/{name}", json=text)
    assert r.status_code == 200
    assert r.text == plan_files(plan(load_intent(EXAMPLES / "rail-only-128.yaml")))[name]
    assert (
        r.headers["content-type"].split(";")[0]
        == {".json": "application/json", ".csv": "text/csv", ".svg": "image/svg+xml"}[name[name.rfind(".") :]]
    )


def test_bad_intent_is_422_with_the_cli_message():
    r = client.post("/api/plan", json={"cluster": {"servers": -1}})
    assert r.status_code == 422 and "cluster.servers" in str(r.json()["detail"])
    r = client.post("/api/plan/files/nope.txt", json=INTENT)
    assert r.status_code == 404 and "bom.csv" in r.json()["detail"]


def test_catalog_lists_the_shipped_models():
    cat = client.get("/api/catalog").json()
    assert {"CX864E-N", "CX732Q-N"} <= set(cat["switches"])
    assert "ConnectX-7" in cat["nics"] and "H100" in cat["gpus"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _table(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"{selector} tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")


def test_page_renders_the_plan(served):
    """The page opens on its example intent, plans it through the API and shows the design's counts,
    the BOM rows and the diagram; a bad intent shows the API's message."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "the web page test needs Debian's chromium (apt-packages.txt)"
    page_text = client.get("/").text
    intent = re.search(r'<textarea id="intent">(.*?)</textarea>', page_text, re.S).group(1)
    want = client.post("/api/plan", json=intent).json()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(served)
            page.wait_for_selector("#bom td", timeout=30_000)
            page.wait_for_selector("#diagram svg", timeout=30_000)
            summary = dict(_table(page, "#summary")[1:])
            d = want["design"]
            assert summary["GPUs"] == "256" and summary["leaves"] == str(d["leaves"]) == "4"
            assert summary["spines"] == str(d["spines"]) == "2" and summary["architecture"] == "rail-optimized"
            bom = _table(page, "#bom")
            assert bom[0] == ["network", "item", "model", "count", "total USD"]
            shown = [(r[2], int(r[3].replace(",", ""))) for r in bom[1:]]
            assert shown == [(b["model"], b["count"]) for b in want["bom"]]
            assert ("CX864E-N", 6) in shown
            page.wait_for_selector("#download:not([hidden])", timeout=30_000)  # fabric.json offered last

            page.fill("#intent", "cluster: {servers: -1}")
            page.click("#go")
            page.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=30_000)
            assert "cluster.servers" in page.inner_text("#error")
        finally:
            browser.close()
