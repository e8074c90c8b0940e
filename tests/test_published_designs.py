"""The plan reproduces published designs."""

import numpy as np

from tests.conftest import make
from tokenfab import plan
from tokenfab.design.invariants import check


def test_rail_only_32x4_on_cx732q_vendor_addressing():
    f = plan(
        make(
            cluster={"servers": 32, "gpus_per_server": 4},
            fabric={"architecture": "rail-only", "switch_model": "CX732Q-N"},
            addressing={"servers": "10.10.1.0/24", "vlan_base": 100},
        )
    )
    d = f.design
    assert (d["leaves"], d["spines"], d["tiers"]) == (4, 0, 1)
    S = f.subnets
    gw = {int(v): f"{g}/{p.split('/')[1]}" for v, g, p in zip(S["vlan"], S["gateway"], S["prefix"])}
    assert gw == {101: "10.10.1.1/26", 102: "10.10.1.65/26", 103: "10.10.1.129/26", 104: "10.10.1.193/26"}
    assert check(f) == []


def test_rail_optimized_64x4_on_cx864e_non_blocking():
    f = plan(
        make(cluster={"servers": 64, "gpus_per_server": 4}, fabric={"architecture": "rail-optimized", "switch_model": "CX864E-N"})
    )
    d = f.design
    assert (d["leaves"], d["spines"], d["tiers"]) == (4, 2, 2)
    assert d["tiers_detail"]["leaf"]["oversubscription"] == 1.0
    # every leaf spreads its 32 x 800G uplinks evenly: 16 parallel links to each spine
    assert d["leaf_spine_links"] == 16
    assert f.expectations["leaf_ecmp_links"]["leaf-r1-1"] == 32
    assert check(f) == []


def test_8gpu_servers_on_64_port_400g_switches():
    for gpus, leaves, spines in ((512, 16, 8), (1024, 32, 16)):
        f = plan(
            make(
                cluster={"servers": gpus // 8, "gpus_per_server": 8},
                fabric={"architecture": "rail-optimized", "switch_model": "TH4-64x400G"},
            )
        )
        assert (f.design["leaves"], f.design["spines"]) == (leaves, spines), gpus
        assert check(f) == []


def test_leaf_ports_follow_platform_names():
    f = plan(make(cluster={"servers": 64, "gpus_per_server": 4}, fabric={"switch_model": "CX864E-N"}))
    leaf = f.index["leaf-r1-1"]
    L = f.links
    down = L["b_port"][(L["b"] == leaf)].tolist()
    # CX864E-N cages are Ethernet0, Ethernet8, ...; 2x400G children add 0 and 4
    assert down[:4] == ["Ethernet0", "Ethernet4", "Ethernet8", "Ethernet12"]
    assert np.unique(L["a_port"][L["a"] == leaf]).size == 32


def test_small_cluster_gets_one_switch_that_joins_the_rails():
    f = plan(make(cluster={"servers": 16, "gpus_per_server": 8}, fabric={"switch_model": "CX864E-N"}))
    d = f.design
    assert (d["tiers"], d["leaves"], d["spines"]) == (1, 1, 0)
    assert len(f.subnets) == 8 and sorted(f.subnets["vlan"].tolist()) == list(range(101, 109))
    assert check(f) == []
    # one more server no longer fits 128 ports: two tiers of rail leaves
    assert plan(make(cluster={"servers": 17, "gpus_per_server": 8})).design["tiers"] == 2


def test_rail_only_two_tiers_keeps_rails_apart():
    f = plan(
        make(cluster={"servers": 300, "gpus_per_server": 8}, fabric={"architecture": "rail-only", "switch_model": "CX864E-N"})
    )
    d = f.design
    assert (d["architecture"], d["tiers"]) == ("rail-only", 2)
    assert d["leaves"] == 8 * 5 and d["spines"] % 8 == 0
    assert {g["name"] for g in f.expectations["reach_groups"]} == {f"plane 1 rail {r}" for r in range(1, 9)}
    assert f.expectations["unreachable_by_design"]
    assert check(f) == []


def test_three_tiers_pods_and_core():
    f = plan(make(cluster={"servers": 1024, "gpus_per_server": 8}, fabric={"tiers": 3}))
    d = f.design
    assert (d["tiers"], d["pods"], d["sus_per_pod"]) == (3, 4, 4)
    assert d["spines"] == 4 * 32 and d["cores"] == 32 * d["cores_per_group"]
    # every spine of pod 1 reaches the same number of cores, evenly
    assert f.device("spine-1-1").asn == f.device("spine-1-32").asn != f.device("spine-2-1").asn
    assert len({f.device(f"core-{i}").asn for i in range(1, d["cores"] + 1)}) == 1
    assert check(f) == []


def test_p31_server_links_and_auto_choice_with_nvlink():
    f = plan(
        make(cluster={"servers": 64, "gpus_per_server": 4}, addressing={"server_links": "p31"}, fabric={"cross_rail": "nvlink"})
    )
    assert len(f.subnets) == 0
    assert set(f.links["prefix_len"][f.links["kind"] == "nic"].tolist()) == {31}
    # rail-only is cheaper when NVLink may carry cross-rail traffic, and the plan says why
    assert f.design["architecture"] == "rail-only"
    assert "auto chose rail-only" in f.design["reasons"][0]
    assert check(f) == []
