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
