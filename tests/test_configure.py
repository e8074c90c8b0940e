"""tokenfab configure: deployable files from the Fabric, valid for SONiC's YANG, FRR and the checks."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, ROOT, make
from tokenfab import load_intent, plan
from tokenfab.catalog.hashing import ecmp_hash
from tokenfab.configure import bundle, frr, validate
from tokenfab.configure.buffers import estimate, headroom
from tokenfab.configure.config_db import Context, switch_config
from tokenfab.errors import InputError

SMALL = "rail-optimized-256"
UP_TO_2048 = ["rail-only-128", "rail-optimized-256", "clos-2048"]


@pytest.fixture(scope="session")
def configured(tmp_path_factory):
    """Every example up to 2,048 GPUs, configured once for the session."""
    out = {}
    for name in UP_TO_2048:
        folder = tmp_path_factory.mktemp("cfg") / name
        bundle.write(plan(load_intent(EXAMPLES / f"{name}.yaml")), folder)
        out[name] = folder
    return out


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env or {})),
        timeout=600,
    )


@pytest.mark.parametrize("name", UP_TO_2048)
def test_examples_validate_clean(configured, name):
    report = validate.validate_folder(configured[name])
    assert report.violations == []
    fabric = plan(load_intent(EXAMPLES / f"{name}.yaml"))
    assert report.switches == int((fabric.devices["role"] != "server").sum())
    assert report.hosts == int((fabric.devices["role"] == "server").sum())
    assert report.frr_parsed, "vtysh (Debian package frr, apt-packages.txt) must parse every frr.conf"


def test_every_frr_conf_is_accepted_by_frr(configured):
    assert frr.vtysh(), "FRR is not installed (apt-get install frr; listed in apt-packages.txt)"
    folder = configured["rail-only-128"]
    for path in sorted(folder.glob("configs/*/frr.conf")):
        assert frr.check_with_frr(path.read_text()) == [], path
    # and the check is real: FRR 8.4 rejects what Debian's build cannot do
    bad = (folder / "configs" / "leaf-r1-1" / "frr.conf").read_text().replace("maximum-paths 256", "maximum-paths 514")
    assert any("maximum-paths 514" in line for line in frr.check_with_frr(bad))


def test_frr_batch_check_reads_as_one_file_at_a_time(configured):
    """One vtysh per batch gives exactly the complaints of one vtysh per file, and a file that leaves
    vtysh out of the config node (or stops its reading) cannot hide the files after it."""
    folder = configured["clos-2048"]
    texts = {p.parent.name: p.read_text() for p in sorted(folder.glob("configs/*/frr.conf"))[:6]}
    assert frr.check_many_with_frr(texts) == {n: [] for n in texts}
    names = list(texts)
    edited = dict(texts)
    edited[names[1]] = texts[names[1]].replace("maximum-paths 256", "maximum-paths 514")
    # ends inside `router bgp`: a bare neighbor line in the next file must still be refused
    edited[names[2]] = texts[names[2]] + "router bgp 65000\n"
    edited[names[3]] = "neighbor 10.9.9.9 remote-as 65009\n" + texts[names[3]]
    # three `exit`s make vtysh stop reading: the next file's fault must still be found
    edited[names[4]] = texts[names[4]] + "exit\nexit\nexit\n"
    edited[names[5]] = texts[names[5]] + "bogus command\n"
    got = frr.check_many_with_frr(edited)
    assert got == {n: frr.check_with_frr(t) for n, t in edited.items()}
    assert got[names[0]] == [] and got[names[2]] == []
    assert any("maximum-paths 514" in line for line in got[names[1]])
    assert any("neighbor 10.9.9.9" in line for line in got[names[3]])
    assert any("bogus command" in line for line in got[names[5]])


def test_deterministic_byte_identical(configured, tmp_path):
    again = tmp_path / "again"
    r = _cli("configure", EXAMPLES / f"{SMALL}.yaml", "-o", again, env={"PYTHONHASHSEED": "123"})
    assert r.returncode == 0, r.stderr
    first = configured[SMALL]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_layout_and_executables(configured):
    f = configured[SMALL]
    for rel in (
        "fabric.json",
        "configs/leaf-r1-1/config_db.json",
        "configs/leaf-r1-1/frr.conf",
        "configs/buffers.csv",
        "hosts/srv-1/netplan.yaml",
        "hosts/srv-1/roce.sh",
        "ztp/leaf-r1-1/ztp.json",
        "ztp/dhcpd.conf",
        "export/containerlab.clab.yml",
        "export/netbox-devices.csv",
        "export/netbox-interfaces.csv",
        "export/netbox-cables.csv",
    ):
        assert (f / rel).is_file(), rel
    assert os.access(f / "hosts/srv-1/roce.sh", os.X_OK)
    r = subprocess.run(["sh", "-n", str(f / "hosts/srv-1/roce.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ztp = json.loads((f / "ztp/leaf-r1-1/ztp.json").read_text())["ztp"]
    assert ztp["01-configdb-json"]["url"]["source"].endswith("/configs/leaf-r1-1/config_db.json")
    assert "leaf-r1-1/ztp.json" in (f / "ztp/dhcpd.conf").read_text()


def _walk_values(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_values(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for v in obj:  # leaf-lists (SWITCH_HASH) are arrays of strings
            yield from _walk_values(v, path)
    else:
        yield path, obj


def test_config_db_format_and_platform_ports(configured):
    cfg = json.loads((configured[SMALL] / "configs/leaf-r1-1/config_db.json").read_text())
    assert all(isinstance(v, str) for _, v in _walk_values(cfg))
    assert not [k for t in cfg.values() for k in t if "," in k], "one port per key"
    meta = cfg["DEVICE_METADATA"]["localhost"]
    assert (meta["type"], meta["hwsku"], meta["platform"]) == ("BackEndToRRouter", "CX864E-N", "x86_64-asterfusion_cx864e_n-r0")
    spine = json.loads((configured[SMALL] / "configs/spine-1/config_db.json").read_text())
    assert spine["DEVICE_METADATA"]["localhost"]["type"] == "BackEndLeafRouter"
    port = cfg["PORT"]
    # 2x400G[200G] downlinks: children of the 0-based cage 0 share its 8 lanes, index 0
    assert port["Ethernet0"]["lanes"] == "1,2,3,4" and port["Ethernet4"]["lanes"] == "5,6,7,8"
    assert port["Ethernet0"]["index"] == port["Ethernet4"]["index"] == "0"
    assert port["Ethernet0"]["speed"] == "400000" and port["Ethernet0"]["admin_status"] == "up"
    assert cfg["BREAKOUT_CFG"]["Ethernet0"]["brkout_mode"] == "2x400G[200G]"
    # the name is not the first lane: Ethernet256 (cage 32) is lanes 33-40 at 800G
    assert port["Ethernet256"]["lanes"] == "33,34,35,36,37,38,39,40" and port["Ethernet256"]["speed"] == "800000"
    assert cfg["BREAKOUT_CFG"]["Ethernet256"]["brkout_mode"] == "1x800G[400G]"
    unused = [p for p, row in port.items() if p not in cfg["DEVICE_NEIGHBOR"]]
    assert unused and all(port[p]["admin_status"] == "down" for p in unused)
    # L3 and BGP: a /31 per uplink, a mirrored session each, servers in the rail VLAN
    assert cfg["INTERFACE"]["Ethernet256|10.4.0.1/31"] == {}
    assert cfg["BGP_NEIGHBOR"]["10.4.0.0"]["local_addr"] == "10.4.0.1"
    assert spine["BGP_NEIGHBOR"]["10.4.0.1"]["asn"] == meta["bgp_asn"]
    assert cfg["VLAN_MEMBER"]["Vlan101|Ethernet0"] == {"tagging_mode": "untagged"}
    assert "Vlan101|10.64.0.1/25" in cfg["VLAN_INTERFACE"]
    assert cfg["DEVICE_NEIGHBOR"]["Ethernet0"] == {"name": "srv-1", "port": "nic1", "local_port": "Ethernet0"}
    assert list(cfg["MGMT_INTERFACE"]) == ["eth0|192.168.0.16/16"]
    assert cfg["SWITCH_HASH"]["GLOBAL"]["ecmp_hash"] == list(ecmp_hash().ecmp_hash)


def test_frr_is_rendered_from_config_db():
    f = plan(make(cluster={"servers": 32, "gpus_per_server": 8}, fabric={"switch_model": "CX864E-N"}))
    ctx = Context(f)
    cfg = switch_config(ctx, 0)
    text = frr.render_frr(cfg)
    assert "router bgp 64800" in text and "maximum-paths 256" in text
    # Loopback0 and the rail VLAN's subnet, as bgpcfgd advertises them
    assert frr.advertised(text) == [f"{f.devices['loopback'][0]}/32", f.subnets["prefix"][0]]
    peers = [line.split()[1] for line in text.splitlines() if line.endswith("remote-as 64513")]
    assert sorted(peers) == sorted(cfg["BGP_NEIGHBOR"])
    # change the file the switch loads, and the FRR config follows
    ip = next(iter(cfg["BGP_NEIGHBOR"]))
    cfg["BGP_NEIGHBOR"][ip]["asn"] = "65001"
    cfg["BGP_NEIGHBOR"][ip]["admin_status"] = "down"
    changed = frr.render_frr(cfg)
    assert f"neighbor {ip} remote-as 65001" in changed and f"neighbor {ip} shutdown" in changed


def test_p31_servers_get_routed_ports_and_advertised_31s(tmp_path):
    f = plan(
        make(
            cluster={"servers": 32, "gpus_per_server": 8}, fabric={"switch_model": "CX864E-N"}, addressing={"server_links": "p31"}
        )
    )
    out = tmp_path / "p31"
    bundle.write(f, out)
    cfg = json.loads((out / "configs/leaf-r1-1/config_db.json").read_text())
    assert "VLAN" not in cfg and cfg["DEVICE_METADATA"]["localhost"]["docker_routing_config_mode"] == "split-unified"
    nic_31 = [
        k.split("|")[1]
        for k in cfg["INTERFACE"]
        if "|" in k and cfg["DEVICE_NEIGHBOR"][k.split("|")[0]]["name"].startswith("srv-")
    ]
    assert len(nic_31) == 32
    adv = frr.advertised((out / "configs/leaf-r1-1/frr.conf").read_text())
    assert {str(ipaddress.ip_interface(p).network) for p in nic_31} <= set(adv)
    assert (out / "ztp/leaf-r1-1/install-frr.sh").is_file()
    assert validate.validate_folder(out).violations == []


@pytest.mark.parametrize(
    "profile, dscp, pfc, lossless_q",
    [
        ("sonic-default", {3: "3", 4: "4", 26: "1", 48: "6"}, "3,4", ["3", "4"]),
        ("dcqcn-26", {3: "0", 26: "3", 48: "6"}, "3", ["3"]),
    ],
)
def test_roce_profiles(profile, dscp, pfc, lossless_q):
    f = plan(make(cluster={"servers": 8, "gpus_per_server": 8}, roce={"profile": profile}))
    ctx = Context(f)
    cfg = switch_config(ctx, 0)
    ((name, table),) = cfg["DSCP_TO_TC_MAP"].items()
    assert len(table) == 64 and {d: table[str(d)] for d in dscp} == dscp
    assert {row["pfc_enable"] for k, row in cfg["PORT_QOS_MAP"].items() if k != "global"} == {pfc}
    wred = next(iter(cfg["WRED_PROFILE"]))
    queues = cfg["QUEUE"].items()
    assert (
        sorted(k.split("|")[1] for k, row in queues if k.startswith("Ethernet0|") and row.get("wred_profile") == wred)
        == lossless_q
    )
    if profile == "dcqcn-26":
        assert (
            cfg["QUEUE"]["Ethernet0|6"]["scheduler"] == "scheduler.cnp" and cfg["SCHEDULER"]["scheduler.cnp"]["type"] == "STRICT"
        )


def test_roce_overrides_and_bad_roce_input():
    f = plan(make(cluster={"servers": 8, "gpus_per_server": 8}, roce={"ecn_min_bytes": 100000, "ecn_max_bytes": 400000}))
    w = next(iter(switch_config(Context(f), 0)["WRED_PROFILE"].values()))
    assert (w["green_min_threshold"], w["green_max_threshold"]) == ("100000", "400000")
    with pytest.raises(InputError, match="roce.profile.*unknown RoCE profile 'lossless'.*dcqcn-26"):
        make(cluster={"servers": 8}, roce={"profile": "lossless"})
    with pytest.raises(InputError, match="ecn_min_bytes"):
        make(cluster={"servers": 8}, roce={"ecn_min_bytes": 5000, "ecn_max_bytes": 4000})
    with pytest.raises(InputError, match=r"roce\.ecn_max: unknown key"):
        make(cluster={"servers": 8}, roce={"ecn_max": 5000})
    with pytest.raises(InputError, match="roce: ECN min 2000000 B must be below max 1536000 B"):
        make(cluster={"servers": 8}, roce={"ecn_min_bytes": 2000000})


def test_headroom_from_platform_rows_or_marked_estimate():
    h = headroom("CX864E-N", 400, 4.1)  # the SKU's pg_profile_lookup.ini row 400G_5m
    assert (h.cable_m, h.xoff, h.size, h.dynamic_th, h.estimate) == (5, 117536, 1518, 1, False)
    assert headroom("CX864E-N", 800, 30.0).cable_m == 40
    e = headroom("TH5-64x800G", 800, 30.0)  # no rows in the catalog: the formula, flagged
    assert e.estimate and e == estimate(800, 30)
    # xoff = 2 x 30 m x 5 ns/m x 100 GB/s + 2 x 9216 B + 2 us x 100 GB/s
    assert e.xoff == 30000 + 18432 + 200000 and e.size == e.xoff + e.xon


def test_estimates_are_listed_in_buffers_csv(tmp_path):
    f = plan(make(cluster={"servers": 8, "gpus_per_server": 8}, fabric={"switch_model": "TH5-64x800G"}))
    out = tmp_path / "th5"
    bundle.write(f, out)
    rows = (out / "configs/buffers.csv").read_text().splitlines()
    assert rows[0].endswith(",estimate") and all(r.endswith(",yes") for r in rows[1:])
    assert validate.validate_folder(out).violations == []


# ---- bad input: exit 2, a clear message, nothing written ------------------------------
def test_bad_intent_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: {servers: 8}\nroce: {profile: nope}\n")
    out = tmp_path / "out"
    r = _cli("configure", bad, "-o", out)
    assert r.returncode == 2 and "roce.profile" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_bad_fabric_json_exits_2(tmp_path, configured):
    folder = tmp_path / "plan"
    folder.mkdir()
    obj = json.loads((configured[SMALL] / "fabric.json").read_text())
    obj["links"]["rows"][0][1] = "srv-999"
    (folder / "fabric.json").write_text(json.dumps(obj))
    r = _cli("configure", folder)
    assert r.returncode == 2 and "srv-999" in r.stderr and "Traceback" not in r.stderr
    assert not (folder / "configs").exists()
    (folder / "fabric.json").write_text("{not json")
    r = _cli("configure", folder)
    assert r.returncode == 2 and "not valid JSON" in r.stderr


def test_existing_output_needs_force_and_plan_folder_is_added_to(tmp_path):
    intent = EXAMPLES / "rail-only-128.yaml"
    out = tmp_path / "plan"
    assert _cli("plan", intent, "-o", out).returncode == 0
    r = _cli("configure", intent, "-o", out)
    assert r.returncode == 2 and "--force" in r.stderr
    r = _cli("configure", out)  # a plan folder: configure adds to it
    assert r.returncode == 0, r.stderr
    assert (out / "bom.csv").is_file() and (out / "configs/leaf-r1-1/config_db.json").is_file()
    r = _cli("validate", out, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


def test_validate_bad_folder_exits_2(tmp_path):
    r = _cli("validate", tmp_path / "missing")
    assert r.returncode == 2 and "no such folder" in r.stderr
    assert _cli("plan", EXAMPLES / "rail-only-128.yaml", "-o", tmp_path / "p").returncode == 0
    r = _cli("validate", tmp_path / "p")
    assert r.returncode == 2 and "configure" in r.stderr
