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
    assert r.status_code == 422 and "cluster.servers" in r.json()["detail"][0]["msg"]
    assert client.post("/api/plan/files/nope.txt", json=INTENT).status_code == 404


def test_ui_and_catalog():
    assert "tokenfab" in client.get("/").text
    assert "CX864E-N" in client.get("/api/catalog").json()["switches"]


def test_hostile_bodies_answer_4xx_in_the_documented_shape():
    import jsonschema

    from tokenfab.server.app import MAX_BODY_BYTES

    c = TestClient(app, raise_server_exceptions=False)
    spec = app.openapi()
    err_schema = {"$ref": "#/components/schemas/HTTPValidationError", "components": spec["components"]}
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdefg", "bcdefgh")) + "cluster: *h\n"
    json_type = {"content-type": "application/json"}
    cases = [
        (dict(content=bytes(range(256)), headers=json_type), 422, "UTF-8"),
        (dict(content=bytes(range(256)), headers={"content-type": "application/octet-stream"}), 422, "UTF-8"),
        (dict(content=b'{"cluster": {"servers": 4}, "racks": {"power_budget_kw": Infinity}}', headers=json_type), 422, "Infinity"),
        (dict(content=b'{"cluster": {"servers": ' + b"9" * 5000 + b"}}", headers=json_type), 422, "digits"),
        (dict(content=b"[" * 100_000 + b"]" * 100_000, headers=json_type), 422, "nested"),
        (dict(json="cluster: " + "[" * 5000 + "]" * 5000), 422, "nesting"),
        (dict(json="cluster: {servers: " + "9" * 5000 + "}"), 422, "digits"),
        (dict(json=bomb), 422, "alias"),
        (dict(json="cluster: {servers: 4}\ncluster: {servers: 8}\n"), 422, "duplicate key"),
        (dict(json={"cluster": {"servers": True}}), 422, "boolean"),
        (dict(content=b"x" * (MAX_BODY_BYTES + 1), headers=json_type), 413, "at most"),
        (dict(content="cluster: {servers: 4}", headers={"content-type": "image/png"}), 415, "content type"),
    ]
    for kw, status, needle in cases:
        r = c.post("/api/plan", **kw)
        assert r.status_code == status, (needle, r.status_code, r.text[:300])
        assert len(r.content) < 4096 and needle in r.text, (needle, r.text[:300])
        if status == 422:
            jsonschema.validate(r.json(), err_schema)
    ok = c.post("/api/plan", content=INTENT, headers={"content-type": "text/yaml"})
    assert ok.status_code == 200 and ok.json()["design"]["leaves"] == 4
