"""tokenfab validate: configs broken on purpose are each caught, with a message that points at the fault."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from dataclasses import asdict

import pytest

from tests.conftest import EXAMPLES, ROOT
from tokenfab import load_intent, plan
from tokenfab.configure import bundle, validate
from tokenfab.configure.yang import validator


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "fab"
    bundle.write(plan(load_intent(EXAMPLES / "rail-optimized-256.yaml")), out)
    return out


@pytest.fixture()
def b(folder):
    """A fresh, editable copy of the loaded bundle."""
    loaded = validate.load(folder)
    loaded.configs = copy.deepcopy(loaded.configs)
    loaded.hosts = copy.deepcopy(loaded.hosts)
    return loaded


def _run(b, yang=False):
    found, _ = validate.check(b, check_frr=False, yang=yang)
    return found


def _one(found, check, device):
    hits = [v for v in found if v.check == check and v.device == device]
    assert hits, f"no {check} violation on {device}; got {found[:5]}"
    return hits


def test_clean_bundle_has_no_findings(b):
    assert _run(b, yang=True) == []


def test_wrong_lane(b):
    b.configs["leaf-r1-1"]["PORT"]["Ethernet8"]["lanes"] = "1,2,3,4"  # Ethernet0's lanes
    hits = _one(_run(b), "platform", "leaf-r1-1")
    wrong = [v for v in hits if (v.table, v.key, v.field) == ("PORT", "Ethernet8", "lanes")]
    assert any("port map gives '9,10,11,12'" in v.message for v in wrong)
    assert any("lane 1 is also used by Ethernet0" in v.message for v in wrong)


def test_missing_reverse_bgp_peer(b):
    del b.configs["spine-1"]["BGP_NEIGHBOR"]["10.4.0.1"]
    hits = _one(_run(b), "bgp", "leaf-r1-1")
    assert [(v.table, v.key) for v in hits] == [("BGP_NEIGHBOR", "10.4.0.0")]
    assert "no reverse session: spine-1 has no BGP_NEIGHBOR 10.4.0.1" in hits[0].message


def test_duplicate_ip(b):
    intf = b.configs["leaf-r2-1"]["INTERFACE"]
    del intf["Ethernet256|10.4.0.65/31"]
    intf["Ethernet256|10.4.0.1/31"] = {}  # leaf-r1-1's address
    hits = _one(_run(b), "address", "leaf-r2-1")
    assert hits[0].key == "Ethernet256|10.4.0.1/31" and "10.4.0.1 is also configured on leaf-r1-1" in hits[0].message


def test_pfc_priority_on_one_hop_only(b):
    b.configs["spine-2"]["PORT_QOS_MAP"]["Ethernet8"]["pfc_enable"] = "3,4"
    hits = _one(_run(b), "lossless", "spine-2")
    assert any(
        (v.key, v.field) == ("Ethernet8", "pfc_enable") and "PFC on priorities 3,4, but 3 on the other hops" in v.message
        for v in hits
    )


def test_bad_dscp_on_a_switch(b):
    b.configs["spine-1"]["DSCP_TO_TC_MAP"]["ROCE"]["26"] = "0"
    hits = _one(_run(b), "lossless", "spine-1")
    assert all(v.field == "dscp_to_tc_map" for v in hits) and "DSCP 26: 0 here, 3 elsewhere" in hits[0].message


def test_bad_dscp_on_a_host(b):
    b.hosts["srv-7"].vars["ROCE_DSCP"] = "27"
    hits = _one(_run(b), "lossless", "srv-7")
    assert hits[0].field == "ROCE_DSCP" and "DSCP 27 is TC 0" in hits[0].message


def test_out_of_range_dscp_is_a_yang_violation(b):
    b.configs["leaf-r3-1"]["DSCP_TO_TC_MAP"]["ROCE"]["64"] = "3"
    hits = _one(_run(b, yang=True), "yang", "leaf-r3-1")
    assert [(v.table, v.key, v.field, v.message) for v in hits] == [("DSCP_TO_TC_MAP", "ROCE", "64", "Invalid DSCP")]


def test_yang_reports_every_fault_with_table_key_field(b):
    cfg = b.configs["leaf-r1-1"]
    cfg["PORT"]["Ethernet0"]["mtu"] = "9300"
    cfg["PORT"]["Ethernet4"]["fec"] = "fc91"
    cfg["DEVICE_METADATA"]["localhost"]["type"] = "GpuLeaf"
    cfg["QUEUE"]["Ethernet0|3"]["scheduler"] = "nope"
    cfg["BGP_NEIGHBOR"]["10.4.0.0"]["asn"] = "0"
    cfg["DEVICE_NEIGHBOR"]["Ethernet0"]["hwsku"] = "x"
    found = {(e.table, e.key, e.field) for e in validator().validate(cfg)}
    assert found == {
        ("PORT", "Ethernet0", "mtu"),
        ("PORT", "Ethernet4", "fec"),
        ("DEVICE_METADATA", "localhost", "type"),
        ("QUEUE", "Ethernet0|3", "scheduler"),
        ("BGP_NEIGHBOR", "10.4.0.0", "asn"),
        ("DEVICE_NEIGHBOR", "Ethernet0", "hwsku"),
    }


def test_link_ends_disagree(b):
    b.configs["spine-1"]["PORT"]["Ethernet0"]["fec"] = "none"
    hits = _one(_run(b), "link", "leaf-r1-1")
    assert any((v.key, v.field) == ("Ethernet256", "fec") and "'rs' here, 'none' on spine-1:Ethernet0" in v.message for v in hits)


def test_ecn_must_start_before_pause(b):
    for row in b.configs["leaf-r4-1"]["WRED_PROFILE"].values():
        row["green_min_threshold"] = "90000000"
        row["green_max_threshold"] = "95000000"
    hits = _one(_run(b), "ecn", "leaf-r4-1")
    assert "after PFC would pause" in hits[0].message and hits[0].field == "green_min_threshold"
    del b.configs["leaf-r2-1"]["QUEUE"]["Ethernet0|3"]["wred_profile"]
    assert any(v.key == "Ethernet0|3" and "does not mark ECN" in v.message for v in _one(_run(b), "ecn", "leaf-r2-1"))


def test_unreachable_nic_and_missing_advertisement(b):
    del b.configs["leaf-r1-1"]["VLAN_MEMBER"]["Vlan101|Ethernet8"]
    b.configs["leaf-r1-1"]["PORT"]["Ethernet12"]["admin_status"] = "down"
    hits = _one(_run(b), "reach", "leaf-r1-1")
    assert any(v.key == "Ethernet8" and "covers srv-3:nic1" in v.message for v in hits)
    assert any(v.key == "Ethernet12" and v.field == "admin_status" for v in hits)


def test_leaf_cut_off_from_spines_is_unreachable(b):
    for spine in ("spine-1", "spine-2"):
        nb = b.configs[spine]["BGP_NEIGHBOR"]
        for ip in [ip for ip, row in nb.items() if row["name"] == "leaf-r4-1"]:
            nb[ip]["asn"] = "64999"  # wrong ASN: no session comes up
    found = _run(b)
    reach = [v for v in found if v.check == "reach"]
    assert any(v.device == "leaf-r4-1" and "get no BGP path" in v.message for v in reach)
    assert any(v.check == "bgp" and v.field == "asn" for v in found)


def test_frr_conf_must_match_its_config_db(b):
    b.frr["spine-2"] = b.frr["spine-2"].replace("timers 10 30", "timers 3 9", 1)
    hits = _one(_run(b), "frr", "spine-2")
    assert "differs from what its config_db.json renders" in hits[0].message


def test_cli_lists_violations_and_exits_1(folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    path = broken / "configs/spine-1/config_db.json"
    cfg = json.loads(path.read_text())
    del cfg["BGP_NEIGHBOR"]["10.4.0.1"]
    cfg["PORT"]["Ethernet0"]["mtu"] = "9300"
    path.write_text(json.dumps(cfg))
    (broken / "configs/leaf-r2-1/frr.conf").write_text("router bgp 1\n bogus command\n")

    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "tokenfab.cli", "validate", str(broken), *a],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
            timeout=300,
        )

    r = run()
    assert r.returncode == 1, r.stderr
    assert "spine-1 PORT|Ethernet0 .mtu" in r.stdout and "no reverse session" in r.stdout
    r = run("--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["ok"] is False
    kinds = {(v["check"], v["device"]) for v in data["violations"]}
    assert {("yang", "spine-1"), ("bgp", "leaf-r1-1"), ("frr", "leaf-r2-1")} <= kinds
    assert any(
        v["check"] == "frr" and "FRR rejects" in v["message"] and "bogus command" in v["message"] for v in data["violations"]
    )


def test_worker_processes_find_the_same_violations_as_one_process(folder, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    path = broken / "configs/spine-1/config_db.json"
    cfg = json.loads(path.read_text())
    del cfg["BGP_NEIGHBOR"]["10.4.0.1"]
    cfg["PORT"]["Ethernet0"]["mtu"] = "9300"
    path.write_text(json.dumps(cfg))
    (broken / "configs/leaf-r2-1/frr.conf").unlink()
    (broken / "hosts/srv-3/roce.sh").write_text("ROCE_DSCP=26\n")
    monkeypatch.setattr(validate, "SWITCHES_PER_TASK", 3)  # several tasks even for a small fabric
    monkeypatch.setattr(validate, "HOSTS_PER_TASK", 16)
    seen = []
    one = validate.validate_folder(broken, check_frr=False, workers=1)
    two = validate.validate_folder(broken, check_frr=False, workers=2, progress=lambda *a: seen.append(a))
    assert one.to_json() == two.to_json()
    kinds = {(v.check, v.device) for v in two.violations}
    assert {("yang", "spine-1"), ("bgp", "leaf-r1-1"), ("file", "leaf-r2-1"), ("lossless", "srv-3")} <= kinds
    assert two.hosts == 64 and two.switches == one.switches
    assert seen[-1][0] == seen[-1][1]  # the bar ends full
    # the in-memory path (load + check) agrees with the streaming one
    found, _ = validate.check(validate.load(broken), check_frr=False)
    assert [asdict(v) for v in found] == [asdict(v) for v in two.violations]


def _mutations(cfg: dict, rng) -> dict:
    """A copy of a switch's config_db.json with one to three random faults, of the kinds people make."""
    out = copy.deepcopy(cfg)
    for _ in range(rng.randint(1, 3)):
        table = rng.choice(sorted(out))
        rows = out[table]
        if not rows:
            continue
        key = rng.choice(sorted(rows))
        kind = rng.randrange(8)
        if kind == 0:  # a row goes (a port, a neighbour, a profile others point at)
            del rows[key]
        elif kind == 1:  # a whole table goes
            del out[table]
        elif kind == 2 and isinstance(rows[key], dict) and rows[key]:  # a value is wrong
            field = rng.choice(sorted(rows[key]))
            rows[key][field] = rng.choice(["bogus", "-1", "99999999999", "", "Ethernet9999", "true"])
        elif kind == 3:  # a key is wrong (others may point at the old name)
            rows[key.replace("Ethernet", "Ethernet9") if "Ethernet" in key else key + "x"] = rows.pop(key)
        elif kind == 4 and isinstance(rows[key], dict):  # a field the models do not know
            rows[key]["colour"] = "blue"
        elif kind == 5 and isinstance(meta := out.setdefault("DEVICE_METADATA", {}).setdefault("localhost", {}), dict):
            meta["switch_type"] = rng.choice(["voq", "switch", "dpu"])  # what other tables' `when` read
        elif kind == 7:  # a row that is not an object of fields
            rows[key] = "up"
        elif kind == 6 and isinstance(meta := out.setdefault("DEVICE_METADATA", {}).setdefault("localhost", {}), dict):
            meta["hostname"] = "other"  # what voq-only QUEUE rows compare with
    return out


def test_reusing_clean_tables_finds_what_a_full_check_finds(folder):
    """A table found clean in one switch is not checked again while it and what it reads stay the
    same: on random faults, what is found is exactly what checking the whole file finds."""
    import random

    rng = random.Random(7)
    configs = {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("configs/*/config_db.json"))}
    v = validator()
    for name in sorted(configs)[:3]:
        assert v.validate(configs[name]) == []  # fills the memory of clean tables
    for i in range(60):
        cfg = _mutations(configs[rng.choice(sorted(configs))], rng)
        assert v.validate(cfg) == v.validate(cfg, reuse=False), i
