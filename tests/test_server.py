"""REST API of `tokenfab serve`: designs in a workspace, the same plan and errors as the CLI, jobs,
one error shape, and the guards (token off loopback, body cap, alias bombs, paths kept inside)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tokenfab.cli import app as cli
from tokenfab.server.app import create_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
INTENT = "name: small\ncluster: {servers: 64, gpus_per_server: 4}\nfabric: {architecture: rail-optimized}\n"


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(tmp_path / "ws")) as c:
        yield c


def wait(client, job_id: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still running after {timeout_s} s")


def test_design_is_planned_into_the_workspace_as_the_cli_would(client, tmp_path):
    r = client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "planned"
    assert (d["summary"]["design"]["leaves"], d["summary"]["design"]["spines"]) == (4, 2)
    assert d["summary"]["switches"] == 6 and d["summary"]["totals"]["price_usd"] > 0
    plan = tmp_path / "ws" / "designs" / "small" / "plan"
    assert json.loads((plan / "fabric.json").read_text())["schema"] == "tokenfab.fabric/1"
    # the BOM the app shows is the plan's bom.csv
    bom = client.get("/api/designs/small/tables/bom").json()
    assert bom["columns"][:3] == ["network", "category", "model"]
    assert ["backend", "switch", "CX864E-N"] in [row[:3] for row in bom["rows"]]
    listed = client.get("/api/designs").json()
    assert [(x["name"], x["gpus"], x["switches"]) for x in listed] == [("small", 256, 6)]


def test_a_plan_folder_made_on_the_cli_opens_in_the_app(tmp_path):
    ws = tmp_path / "ws"
    res = CliRunner().invoke(cli, ["plan", str(EXAMPLES / "rail-only-128.yaml"), "-o", str(ws / "designs" / "cli-made" / "plan")])
    assert res.exit_code == 0, res.output
    with TestClient(create_app(ws)) as c:
        d = c.get("/api/designs/cli-made").json()
        assert d["status"] == "planned" and "servers: 32" in d["intent_yaml"]
        topo = c.get("/api/designs/cli-made/topology").json()
        assert [n["data"]["label"] for n in topo["nodes"]] == ["unit 1: 4 leaves, 32 servers"]


def test_topology_groups_expand_and_the_device_panel(client):
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    collapsed = client.get("/api/designs/small/topology").json()
    assert sorted(n["data"]["id"] for n in collapsed["nodes"]) == ["spine-1", "spine-2", "su-1"]
    assert {e["data"]["label"] for e in collapsed["edges"]} == {"64 x 800G"}
    unit = client.get("/api/designs/small/topology?expand=su-1").json()
    ids = {n["data"]["id"] for n in unit["nodes"]}
    assert {"leaf-r1-1", "leaf-r4-1", "su-1/servers"} <= ids and "su-1" not in ids
    rails = {n["data"]["rail"] for n in unit["nodes"] if n["data"]["kind"] == "leaf"}
    assert rails == {1, 2, 3, 4}
    servers = client.get("/api/designs/small/topology?expand=su-1,su-1/servers").json()
    assert sum(n["data"]["kind"] == "server" for n in servers["nodes"]) == 64
    panel = client.get("/api/designs/small/devices/leaf-r1-1").json()
    assert panel["device"]["asn"] == 64800 and len(panel["ports"]) == 64 + 32  # a NIC per server, 16 links to each spine
    assert {b["name"] for b in panel["bgp"]} == {"spine-1", "spine-2"} and panel["files"] == {}
    assert client.get("/api/designs/small/devices/nope").status_code == 404


def test_configure_validate_and_simulate_as_jobs(client):
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    job = client.post("/api/designs/small/configure").json()["job"]
    assert wait(client, job["id"])["result"] == {"ok": True, "switches": 6, "violations": 0}
    v = client.get("/api/designs/small/validation").json()
    assert v["ok"] and v["switches"] == 6
    panel = client.get("/api/designs/small/devices/leaf-r1-1").json()
    assert json.loads(panel["files"]["config_db.json"])["DEVICE_METADATA"]["localhost"]["hostname"] == "leaf-r1-1"
    assert "router bgp 64800" in panel["files"]["frr.conf"]
    started = client.post(
        "/api/designs/small/simulate", json={"routings": ["ecmp", "spray"], "maxbytes": "64M", "fail": ["spine-1"]}
    ).json()
    assert wait(client, started["job"]["id"])["state"] == "done"
    run = client.get(f"/api/designs/small/runs/{started['run']}").json()
    ecmp, spray = run["result"]["series"]
    assert ecmp["routing"] == "ecmp" and len(ecmp["busbw_GBps"]) == len(ecmp["size_bytes"]) == 4
    assert all(x > 0 for x in spray["busbw_GBps"])
    assert sum(link["failed"] for link in run["result"]["links"]) == 64  # spine-1's 64 uplinks
    topo = client.get(f"/api/designs/small/topology?run={started['run']}").json()
    assert [
        e["data"]["failed"] for e in topo["edges"] if e["data"]["source"] == "spine-1" or e["data"]["target"] == "spine-1"
    ] == [64]
    # the archive holds the configs, the ZTP bundle and the run
    import io
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(client.get("/api/designs/small/archive").content))
    names = z.namelist()
    assert "small/plan/configs/leaf-r1-1/config_db.json" in names and "small/plan/ztp/dhcpd.conf" in names
    assert f"small/runs/{started['run']}/result.json" in names


def test_a_bad_intent_is_kept_as_typed_and_marks_the_plan_stale(client):
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    r = client.put("/api/designs/small/intent", json={"intent_yaml": INTENT.replace("servers: 64", "servers: -1")})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] is None or "servers" in err["field"]
    assert "cluster.servers" in err["message"]
    d = client.get("/api/designs/small").json()
    assert d["status"] == "invalid" and "servers: -1" in d["intent_yaml"] and "cluster.servers" in d["error"]
    check = client.post("/api/intent/check", json={"intent_yaml": "cluster:\n  servers: -1\n  gpus: 4\n"}).json()
    assert [(p["field"], p["line"]) for p in check["problems"]] == [("cluster.servers", 2), ("cluster.gpus", 3)]


def test_one_error_shape_and_the_guards(tmp_path):
    app = create_app(tmp_path / "ws", max_body_bytes=20_000)
    with TestClient(app) as c:
        for r in (
            c.get("/api/designs/nope"),
            c.post("/api/designs", json={"name": "BAD NAME", "intent_yaml": INTENT}),
            c.post("/api/designs", json={"name": "x", "intent_yaml": "cluster: [unclosed"}),
            c.post("/api/designs", content=b"\xff\xfe\x00binary", headers={"content-type": "application/json"}),
        ):
            assert 400 <= r.status_code < 500
            assert set(r.json()["error"]) == {"status", "field", "message", "accepted"}, r.text
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        )
        r = c.post("/api/intent/check", json={"intent_yaml": bomb})
        assert r.status_code == 200 and not r.json()["ok"] and len(r.text) < 4000
        assert "more than" in r.json()["problems"][0]["message"]
        big = c.post("/api/intent/check", json={"intent_yaml": "x" * 30_000})
        assert big.status_code == 413 and big.json()["error"]["field"] == "body"
        c.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
        for evil in ("../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "plan/../../../../etc/hostname"):
            assert c.get(f"/api/designs/small/files/{evil}").status_code == 404
        assert c.get("/api/designs/small/files/plan/bom.csv").text.startswith("network,category")


def test_token_required_off_loopback(tmp_path):
    with TestClient(create_app(tmp_path / "ws", token="s3cret")) as c:
        assert c.get("/api/designs").status_code == 401
        assert c.get("/api/designs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/designs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/designs?token=s3cret").status_code == 200
        assert c.get("/").status_code == 200  # the page itself; it sends the token with every call
    res = CliRunner().invoke(cli, ["serve", str(tmp_path / "ws2"), "--host", "0.0.0.0"], env={"TOKENFAB_TOKEN": ""})
    assert res.exit_code == 2 and "token" in res.output


def test_jobs_survive_a_restart_and_a_dead_job_is_failed_not_running(tmp_path):
    ws = tmp_path / "ws"
    with TestClient(create_app(ws)) as c:
        c.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
        job = c.post("/api/designs/small/configure").json()["job"]
        done = wait(c, job["id"])
    # a record left 'running' by a server that died
    rec = json.loads((ws / ".jobs" / f"{done['id']}.json").read_text())
    rec.update(state="running", id="20200101-000000-deadbeef")
    (ws / ".jobs" / "20200101-000000-deadbeef.json").write_text(json.dumps(rec))
    with TestClient(create_app(ws)) as c:
        assert c.get(f"/api/jobs/{done['id']}").json()["state"] == "done"
        dead = c.get("/api/jobs/20200101-000000-deadbeef").json()
        assert dead["state"] == "failed" and "server stopped" in dead["error"]


def test_a_running_job_can_be_cancelled(client):
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    job = client.post("/api/designs/small/configure").json()["job"]
    deadline = time.monotonic() + 30
    while client.get(f"/api/jobs/{job['id']}").json()["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    cancelled = client.delete(f"/api/jobs/{job['id']}").json()
    assert cancelled["state"] in ("cancelled", "done")
    time.sleep(1)
    assert client.get(f"/api/jobs/{job['id']}").json()["state"] == cancelled["state"]


def test_catalog_schema_and_offline_assets(client):
    cat = client.get("/api/catalog").json()
    sw = {s["name"]: s for s in cat["switches"]}
    assert sw["CX864E-N"]["ports"] == 64 and sw["CX864E-N"]["port_speed_gbps"] == 800
    assert "cluster" in client.get("/api/schema/intent").json()["properties"]
    page = client.get("/").text
    assert "/static/vendor/cytoscape/cytoscape.min.js" in page and "https://" not in page
    for asset in ("cytoscape/cytoscape.min.js", "plotly.js-dist-min/plotly.min.js", "swagger-ui-dist/swagger-ui-bundle.js"):
        assert client.get(f"/static/vendor/{asset}").status_code == 200
    assert "swagger-ui-bundle.js" in client.get("/docs").text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/designs", "/api/designs/{name}/simulate", "/api/designs/{name}/factory", "/api/compare"} <= set(paths)


@pytest.mark.parametrize("name", ["fabric.json", "bom.csv", "cabling.csv", "ip-plan.csv", "topology.svg"])
def test_stateless_plan_files_are_the_cli_files(client, name):
    """POST /api/plan/files/NAME answers byte for byte what `tokenfab plan` writes for the same intent."""
    from tokenfab import load_intent, plan
    from tokenfab.report import plan_files

    r = client.post(f"/api/plan/files/{name}", json=(EXAMPLES / "rail-only-128.yaml").read_text())
    assert r.status_code == 200
    assert r.text == plan_files(plan(load_intent(EXAMPLES / "rail-only-128.yaml")))[name]
    missing = client.post("/api/plan/files/nope.txt", json=INTENT)
    assert missing.status_code == 404 and "bom.csv" in missing.json()["error"]["accepted"]


def test_stateless_plan_matches_the_library(client):
    import yaml

    from tokenfab import parse_intent, plan

    body = client.post("/api/plan", json=INTENT).json()
    fabric = plan(parse_intent(yaml.safe_load(INTENT)))
    assert (
        body["counts"] == fabric.counts() == {"leafs": 4, "servers": 64, "spines": 2, "leaf-spine links": 128, "nic links": 256}
    )
    assert body["totals"]["price_usd"] == pytest.approx(sum(b["total_price_usd"] for b in body["bom"]))


def test_links_a_twin_holds_down_are_marked_on_the_topology(client, tmp_path, monkeypatch):
    """A twin booted from the design's plan folder records its failures (link rows of fabric.json) in
    its state folder; the topology marks those links failed."""
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    plan = tmp_path / "ws" / "designs" / "small" / "plan"
    state = tmp_path / "twins"
    (state / "lab").mkdir(parents=True)
    fabric = json.loads((plan / "fabric.json").read_text())
    from tokenfab.design.model import Fabric

    f = Fabric.from_json_obj(fabric)
    rows = [i for i in range(len(f.links)) if f.link(i).kind == "leaf-spine"][:2]
    (state / "lab" / "twin.json").write_text(
        json.dumps(
            {
                "name": "lab",
                "source": str(plan.resolve()),
                "failures": [{"target": "x", "devices": [], "links": rows, "hard": False}],
            }
        )
    )
    monkeypatch.setenv("TOKENFAB_TWIN_STATE", str(state))
    topo = client.get("/api/designs/small/topology").json()
    assert topo["twins"] == ["lab"]
    assert sum(e["data"]["failed"] for e in topo["edges"]) == 2


def test_compare_shows_counts_cost_and_the_latest_runs(client):
    client.post("/api/designs", json={"name": "small", "intent_yaml": INTENT})
    client.post("/api/designs", json={"name": "bigger", "intent_yaml": INTENT.replace("servers: 64", "servers: 128")})
    started = client.post("/api/designs/bigger/simulate", json={"maxbytes": "16M"}).json()
    assert wait(client, started["job"]["id"])["state"] == "done"
    c = client.get("/api/compare?a=small&b=bigger").json()
    rows = {r["item"]: r for r in c["rows"]}
    assert rows["GPUs"]["a"] == 256 and rows["GPUs"]["b"] == 512 and rows["GPUs"]["differs"]
    assert rows["cost (USD)"]["b"] > rows["cost (USD)"]["a"]
    sim = [k for k in rows if k.startswith("all_reduce busbw, ecmp")]
    assert sim and rows[sim[0]]["a"] is None and rows[sim[0]]["b"] > 0
    assert c["diff"]["added"]["devices"]["count"] > 0 and c["diff"]["removed"]["devices"]["count"] == 0


def test_a_sweeps_best_design_opens_as_a_design(tmp_path):
    """`tokenfab sweep -o WORKSPACE/sweeps/NAME` shows in the app; one of its best designs opens planned."""
    ws = tmp_path / "ws"
    res = CliRunner().invoke(
        cli, ["sweep", str(EXAMPLES / "sweep-leaf-choices.yaml"), "-o", str(ws / "sweeps" / "leaf"), "-j", "1"]
    )
    assert res.exit_code == 0, res.output
    with TestClient(create_app(ws)) as c:
        assert c.get("/api/sweeps").json() == ["leaf"]
        table = c.get("/api/sweeps/leaf").json()
        assert "point" in table["columns"] and len(table["rows"]) == 16
        best = c.get("/api/sweeps/leaf/best").json()
        assert best and all(b["file"].endswith(f"-point-{b['point']}.yaml") for b in best)
        r = c.post(f"/api/sweeps/leaf/best/{best[0]['file']}/design")
        assert r.status_code == 201, r.text
        d = r.json()
        assert d["name"] == f"leaf-p{best[0]['point']}" and d["status"] == "planned"
        assert c.post("/api/sweeps/leaf/best/..%2F..%2Fresults.csv/design").status_code == 404
