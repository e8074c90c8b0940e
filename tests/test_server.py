"""REST API: the same plan as the CLI, the same errors."""

from fastapi.testclient import TestClient

from tokenfab.server.app import app

client = TestClient(app)
INTENT = "cluster: {servers: 64, gpus_per_server: 4}\nfabric: {architecture: rail-optimized}\n"


def test_plan_from_yaml_text_and_files():
    r = client.post("/api/plan", json=INTENT)
    assert r.status_code == 200
    body = r.json()
    assert (body["design"]["leaves"], body["design"]["spines"]) == (4, 2)
    assert any(b["category"] == "switch" and b["count"] == 6 for b in body["bom"])
    svg = client.post("/api/plan/files/topology.svg", json=INTENT)
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    fabric = client.post("/api/plan/files/fabric.json", json={"cluster": {"servers": 64, "gpus_per_server": 4}})
    assert fabric.json()["schema"] == "tokenfab.fabric/1"


def test_bad_intent_is_422_with_the_cli_message():
    r = client.post("/api/plan", json={"cluster": {"servers": -1}})
    assert r.status_code == 422 and "cluster.servers" in r.json()["detail"]
    assert client.post("/api/plan/files/nope.txt", json=INTENT).status_code == 404


def test_ui_and_catalog():
    assert "tokenfab" in client.get("/").text
    assert "CX864E-N" in client.get("/api/catalog").json()["switches"]
