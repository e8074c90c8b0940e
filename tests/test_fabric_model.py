"""fabric.json: the contract between stages."""

import json

import jsonschema
import pytest

from tests.conftest import make
from tokenfab import InputError, plan
from tokenfab.design.model import Fabric, json_schema
from tokenfab.names import resolve


@pytest.fixture(scope="module")
def fabric():
    return plan(make(name="model-test", cluster={"servers": 64, "gpus_per_server": 4}))


def test_fabric_json_matches_its_schema_and_round_trips(fabric, tmp_path):
    obj = json.loads(fabric.dumps())
    jsonschema.validate(obj, json_schema())
    (tmp_path / "fabric.json").write_text(fabric.dumps())
    again = Fabric.load(tmp_path)
    assert again.dumps() == fabric.dumps()
    assert again.device("leaf-r1-1") == fabric.device("leaf-r1-1")


def test_typed_views(fabric):
    leaf = fabric.device("leaf-r2-1")
    assert (leaf.role, leaf.rail, leaf.su, leaf.hwsku) == ("leaf", 2, 1, "CX864E-N")
    links = fabric.links_of("leaf-r2-1")
    assert len(links) == 64 + 32
    nic = [ln for ln in links if ln.kind == "nic"][0]
    assert nic.a_port == "nic2" and nic.b_ip == "10.64.0.129"  # rail-2 leaf: second /25, gateway .1
    spines = {ln.b for ln in links if ln.kind == "leaf-spine"}
    assert spines == {"spine-1", "spine-2"}


def test_one_syntax_names_devices_and_links(fabric):
    assert resolve(fabric, "leaf-r1-1").is_device
    both = resolve(fabric, "leaf-r1-1--spine-2")
    assert len(both.links) == 16
    port = resolve(fabric, "leaf-r1-1:Ethernet0")
    assert port.devices == ("srv-1", "leaf-r1-1")
    one = fabric.link(both.links[0])
    assert resolve(fabric, one.id).links == (both.links[0],)
    for bad in ("leaf-r9-9", "leaf-r1-1:Ethernet999", "leaf-r1-1--leaf-r2-1"):
        with pytest.raises(InputError):
            resolve(fabric, bad)


def test_not_a_fabric_is_refused(tmp_path):
    (tmp_path / "fabric.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(InputError, match="not a tokenfab fabric"):
        Fabric.load(tmp_path)


def test_design_and_expectations_are_typed_and_their_schema_is_complete(fabric):
    from tokenfab.design.contract import DesignSummary, Expectations

    assert isinstance(fabric.design, DesignSummary) and isinstance(fabric.expectations, Expectations)
    assert fabric.design.tiers_detail["leaf"].down_speed_gbps == fabric.design.link_speed_gbps
    assert fabric.expectations.reach_groups[0].name == "plane 1"
    schema = json_schema()
    defs = schema["$defs"]
    for part, model in (("design", DesignSummary), ("expectations", Expectations)):
        ref = schema["properties"][part]["$ref"].rsplit("/", 1)[-1]
        sub = defs[ref]
        assert sub["additionalProperties"] is False
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        assert set(sub["required"]) == required == set(json.loads(fabric.dumps())[part])
        assert all(p.get("description") for p in sub["properties"].values())
    obj = json.loads(fabric.dumps())
    obj["design"]["tiers_detail"]["leaf"]["down_ports"] = "many"  # the schema now sees inside design
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, schema)


@pytest.mark.parametrize(
    "part, edit, message",
    [
        ("design", lambda d: d.pop("gpus"), "design: gpus: required field is missing"),
        ("design", lambda d: d.update(spines="two"), "design: spines: Input should be a valid integer"),
        ("expectations", lambda e: e.update(bgp_session=1), "expectations: bgp_session: unknown key"),
        (
            "expectations",
            lambda e: e["reach_groups"][0].update(leaves="leaf-r1-1"),
            "expectations: reach_groups.0.leaves: Input should be a valid list",
        ),
    ],
)
def test_a_hand_edited_fabric_json_names_the_bad_field(fabric, tmp_path, part, edit, message):
    obj = json.loads(fabric.dumps())
    edit(obj[part])
    (tmp_path / "fabric.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match=message):
        Fabric.load(tmp_path)
