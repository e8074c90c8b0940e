"""The web app in a real browser: Playwright driving Debian's chromium against `tokenfab serve`.

One user's session, view by view: create the 256-GPU example from the form, open the topology,
expand a unit, click a leaf and read its config; configure and validate; simulate and see the chart;
run a short factory and see the dashboard; type a bad intent and see the error with the old results
greyed out; compare two designs. Screenshots land in test-artifacts/web/ (and, with
TOKENFAB_SCREENSHOTS=docs, replace the README's in docs/screenshots/).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.web_server import running_server

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-packages.txt)")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("TOKENFAB_SCREENSHOTS") == "docs":  # the README's pictures, kept small
        from PIL import Image

        DOCS.mkdir(parents=True, exist_ok=True)
        img = Image.open(ARTIFACTS / f"{name}.png").convert("RGB")
        img = img.resize((800, round(img.height * 800 / img.width)), Image.LANCZOS)
        img.quantize(colors=128).save(DOCS / f"{name}.png", optimize=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def server(workspace):
    with running_server(workspace) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.set_default_timeout(60_000)
        pg.js_errors = errors
        yield pg
        browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def tap(page, node_id: str) -> None:
    """A real mouse click on a graph node, where cytoscape draws it."""
    pos = page.evaluate("(id) => { const n = window.__cy.getElementById(id); return n.renderedPosition(); }", node_id)
    box = page.locator("#cy").bounding_box()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])


def test_a_user_designs_checks_simulates_and_compares(server, page, workspace):
    # 1. create the 256-GPU example (64 x 4 H100, CX864E-N, rail-optimized) from the form
    page.goto(server + "/#/new")
    page.fill("#intent-form input[name=name]", "web-256")
    page.fill("#intent-form input[name=servers]", "64")
    page.fill("#intent-form input[name=gpus_per_server]", "4")
    page.select_option("#intent-form select[name=switch_model]", "CX864E-N")
    page.select_option("#intent-form select[name=architecture]", "rail-optimized")
    page.wait_for_selector("#intent-problems .ok")
    assert "256 GPUs" in page.inner_text("#intent-problems")
    assert "servers: 64" in page.input_value("#intent-yaml")
    shot(page, "design-editor")
    page.click("#create-design")
    page.wait_for_url(re.compile(r"#/design/web-256/topology"))

    # 2. topology: collapsed unit, expand it, click a leaf, read its panel
    page.wait_for_function("window.__cy && window.__cy.getElementById('su-1').length === 1")
    assert page.evaluate("window.__cy.nodes().length") == 3  # two spines and one unit
    tap(page, "su-1")
    page.wait_for_function("window.__cy && window.__cy.getElementById('leaf-r1-1').length === 1")
    assert page.evaluate("window.__cy.getElementById('su-1').length") == 0
    tap(page, "leaf-r1-1")
    page.wait_for_selector("#device-name:text('leaf-r1-1')")
    panel = page.inner_text("#device-panel")
    assert "spine-1" in panel and "Ethernet0" in panel and "Not configured yet" in panel
    shot(page, "topology")

    # 3. configure and validate, then the leaf's generated config is in its panel
    page.goto(server + "/#/design/web-256/validate")
    page.click("#configure-btn")
    page.wait_for_selector("#validation-result .ok", timeout=180_000)
    assert "0 violations" in page.inner_text("#validation-result")
    shot(page, "validate")
    page.goto(server + "/#/design/web-256/topology?expand=su-1&device=leaf-r1-1")
    page.wait_for_selector("pre.config[data-file='config_db.json']")
    config = page.inner_text("pre.config[data-file='config_db.json']")
    assert '"DEVICE_METADATA"' in config and '"BGP_NEIGHBOR"' in config
    assert page.locator("pre.config[data-file='frr.conf']").count() == 1
    # a violation links to its device and line: the table's first line is marked in the config
    page.goto(server + "/#/design/web-256/topology?expand=su-1&device=leaf-r1-1&find=BGP_NEIGHBOR")
    page.wait_for_selector("#config-line")
    assert '"BGP_NEIGHBOR"' in page.inner_text("#config-line")
    assert int(page.get_attribute("#config-line", "data-line")) > 1

    # 4. BOM with totals
    page.goto(server + "/#/design/web-256/bom")
    page.wait_for_selector("table.data")
    assert "CX864E-N" in page.inner_text("table.data")

    # 5. simulate with a spine down: busbw chart per routing, failed links marked in red
    page.goto(server + "/#/design/web-256/simulate")
    page.fill("#sim-form input[name=maxbytes]", "256M")
    page.fill("#sim-form input[name=fail]", "spine-1")
    page.click("#simulate-btn")
    page.wait_for_url(re.compile(r"simulate\?run=simulate-1"), timeout=180_000)
    page.wait_for_selector("#busbw-chart .main-svg")
    names = page.evaluate("document.getElementById('busbw-chart').data.map(t => t.name)")
    assert names == ["simulate-1 ecmp", "simulate-1 spray"]
    colors = page.evaluate("document.getElementById('link-load-chart').data[0].marker.color")
    assert "#c62828" in colors  # the failed spine's links
    shot(page, "simulate")
    page.goto(server + "/#/design/web-256/topology?run=simulate-1")
    page.wait_for_function("window.__cy && window.__cy.edges('[failed > 0]').length > 0")

    # 6. a short factory run and its dashboard
    page.goto(server + "/#/design/web-256/factory")
    text = page.input_value("#factory-yaml").replace("window_h: 6", "window_h: 2")
    page.fill("#factory-yaml", text)
    page.click("#factory-btn")
    page.wait_for_selector("#network-dollars", timeout=240_000)
    dash = page.inner_text("#factory-dashboard")
    assert "tokens" in dash and "network share of capex" in dash
    page.wait_for_selector("#gpu-time-chart .main-svg")
    shot(page, "factory")

    # 7. a bad intent: the error where it is, the old results greyed out
    page.goto(server + "/#/design/web-256/intent")
    page.fill("#intent-yaml", page.input_value("#intent-yaml").replace("servers: 64", "servers: -1"))
    page.wait_for_selector("#intent-problems .problems")
    assert re.search(r"line 3: cluster\.servers: Input should be greater than 0", page.inner_text("#intent-problems"))
    page.click("#save-intent")
    page.wait_for_selector("#stale-banner")
    assert "cluster.servers" in page.inner_text("[role=alert]")
    page.goto(server + "/#/design/web-256/bom")
    page.wait_for_selector("#tab-body.stale")
    shot(page, "bad-intent")
    page.goto(server + "/#/design/web-256/intent")
    page.fill("#intent-yaml", page.input_value("#intent-yaml").replace("servers: -1", "servers: 64"))
    page.click("#save-intent")
    page.wait_for_function("!document.getElementById('stale-banner')")

    # 8. compare with a second design
    page.goto(server + "/#/new")
    page.fill("#intent-form input[name=name]", "web-512")
    page.fill("#intent-form input[name=servers]", "128")
    page.wait_for_selector("#intent-problems .ok")
    page.click("#create-design")
    page.wait_for_url(re.compile(r"#/design/web-512/"))
    page.goto(server + "/#/compare?a=web-256&b=web-512")
    page.wait_for_selector("#compare-table")
    differs = page.locator("#compare-table tr.differs").all_inner_texts()
    assert any(row.startswith("GPUs") for row in differs)
    shot(page, "compare")

    # 9. a sweep written into the workspace by the CLI: its Pareto plot, and a best design opened from it
    import subprocess
    import sys

    examples = Path(__file__).resolve().parent.parent / "examples"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenfab.cli",
            "sweep",
            str(examples / "sweep-leaf-choices.yaml"),
            "-o",
            str(workspace / "sweeps" / "leaf"),
            "-j",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    page.goto(server + "/#/sweeps?sweep=leaf")
    page.wait_for_selector("#pareto-chart .main-svg")
    best = sorted((workspace / "sweeps" / "leaf" / "best").glob("*-point-*.yaml"))[0]
    point = best.stem.rsplit("-point-", 1)[1]
    page.evaluate(f"window.__showPoint({point})")  # what a click on that point of the plot does
    shot(page, "sweep")
    page.click("#open-point")
    page.wait_for_url(re.compile(rf"#/design/leaf-p{point}/topology"))
    page.wait_for_function("window.__cy && window.__cy.nodes().length > 0")
