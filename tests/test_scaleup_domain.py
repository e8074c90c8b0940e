"""Scale-up domains larger than a server (GB200 NVL72: 18 trays x 4 GPUs on one NVLink domain):
design keeps a domain whole (servers, racks), the simulator routes intra-domain traffic over
NVLink, and the factory places tensor-parallel groups inside a domain."""

import numpy as np
import pytest

import tokenfab.catalog as catalog
from tokenfab import parse_intent, plan
from tokenfab.errors import InfeasibleError, InputError

NVL72 = {
    "name": "nvl72",
    "cluster": {"servers": 36, "gpus_per_server": 4, "gpu_model": "GB200"},
    "racks": {"power_budget_kw": 140},
}


@pytest.fixture(autouse=True)
def _shipped_catalog(monkeypatch):
    monkeypatch.setenv("TOKENFAB_CATALOG", "")
    token = catalog._ACTIVE.set(None)
    yield
    catalog._ACTIVE.reset(token)


@pytest.fixture(scope="module")
def nvl72():
    return plan(parse_intent(NVL72))


def test_design_keeps_each_domain_whole(nvl72):
    assert nvl72.design["scaleup_domain_servers"] == 18
    srv = nvl72.devices["role"] == "server"
    assert set(nvl72.devices["model"][srv]) == {"GB200-NVL72"}
    racks = nvl72.devices["rack"][srv]
    for d in range(2):  # the 18 trays of a domain stand in one rack, and no other domain's do
        assert len(set(racks[18 * d : 18 * (d + 1)])) == 1
    assert racks[0] != racks[18]
    assert any("18 servers (72 GPUs) share one scale-up domain" in r for r in nvl72.design["reasons"])
    assert "scaleup_domain_servers" not in plan(parse_intent({"cluster": {"servers": 4}})).design


def test_partial_domains_and_small_racks_are_refused_with_numbers():
    with pytest.raises(
        InputError,
        match=r"cluster.servers: 20 is not a whole number of GB200-NVL72 scale-up "
        r"domains \(18 servers, 72 GPUs each\): use 18 or 36",
    ):
        parse_intent(dict(NVL72, cluster=dict(NVL72["cluster"], servers=20)))
    with pytest.raises(
        InfeasibleError,
        match=r"131.4 kW and 36 U; the rack budget is 40 kW .*raise "
        r"racks.power_budget_kw to 132",
    ):
        plan(parse_intent(dict(NVL72, racks={"power_budget_kw": 40})))


def test_intra_domain_collectives_stay_on_nvlink(nvl72):
    from tokenfab import sim

    one = sim.collective_time(nvl72, "all_reduce", servers="srv-1..srv-18", size_bytes=1 << 30, algorithm="ring")
    util = one.link_utilization()
    assert (one.n_ranks, one.n_servers) == (72, 1)
    assert util[: 2 * one.net.n_links].max() == 0  # not one byte on the scale-out fabric
    assert util[one.net.nvl_base :].max() == pytest.approx(1.0)
    # bounded by NVLink (900 GB/s per direction x its protocol efficiency), far above the NICs' 50 GB/s per GPU
    assert 600 < one.busbw_GBps <= 900 * one.net.params.nvlink_efficiency
    # the whole domain is one NVLink SHARP island: auto takes NVLS on a large buffer
    nvls = sim.collective_time(nvl72, "all_reduce", servers="srv-1..srv-18", size_bytes=1 << 30)
    assert nvls.algorithm == "nvls" and nvls.busbw_GBps > one.busbw_GBps

    two = sim.collective_time(nvl72, "all_reduce", gpus=144, size_bytes=1 << 30)
    assert two.n_servers == 2 and two.link_utilization()[: 2 * two.net.n_links].max() > 0

    # the same 72 GPUs as 18 ordinary 4-GPU servers cross the fabric
    hgx = plan(parse_intent({"cluster": {"servers": 18, "gpus_per_server": 4, "server_model": "H100-4"}}))
    r = sim.collective_time(hgx, "all_reduce", servers="srv-1..srv-18", size_bytes=1 << 30)
    assert r.n_servers == 18 and r.link_utilization()[: 2 * r.net.n_links].max() > 0


def _factory(fabric_name: str, tp: int) -> dict:
    return {
        "name": "nvl",
        "fabric": fabric_name,
        "window_h": 1,
        "network": {"model": "analytical"},
        "tenants": [{"name": "research"}],
        "workloads": {
            "big": {
                "training": {
                    "model": "llama3-70b",
                    "seq_len": 4096,
                    "global_batch": 144,
                    "parallelism": {"tp": tp, "pp": 2, "dp": 72 // tp},
                }
            }
        },
        "jobs": [{"name": "pretrain", "tenant": "research", "workload": "big", "arrive_h": 0, "steps": 10}],
    }


def test_factory_places_tensor_parallel_groups_inside_a_domain(nvl72):
    from tokenfab.factory.cluster import Cluster
    from tokenfab.factory.engine import run_factory
    from tokenfab.factory.spec import parse_factory

    cl = Cluster(nvl72)
    assert (cl.n_servers, cl.gpus_per_server, cl.rails) == (2, 72, 4)
    # each tray keeps its own NIC per rail: 36 trays x 4 rails of 400G, 18 of them per rail in a domain
    assert cl.capacities.nic.shape == (36, 4) and np.all(cl.capacities.nic == 400e9 / 8)
    assert cl.capacities.nic[:18].sum(axis=0).tolist() == [18 * 400e9 / 8] * 4
    assert cl.nodes([1])[:2] == ["srv-19", "srv-20"]

    run = run_factory(parse_factory(_factory("nvl.yaml", tp=8)), nvl72)
    job = run.jobs[0]
    assert job.placement is not None and len(job.placement) == 144
    groups = np.asarray(job.placement).reshape(-1, 8) // 72  # consecutive ranks form a TP group
    assert (groups == groups[:, :1]).all()

    # on 4-GPU servers that are not one NVLink domain, TP 8 would cross the fabric: refused
    hgx = plan(parse_intent({"cluster": {"servers": 36, "gpus_per_server": 4, "server_model": "H100-4"}}))
    with pytest.raises(InputError, match="tp = 8 is larger than a server"):
        run_factory(parse_factory(_factory("hgx.yaml", tp=8)), hgx)


def test_the_nvl72_example_racks_one_domain_per_rack():
    from collections import Counter

    from tests.conftest import EXAMPLES
    from tokenfab import load_intent

    f = plan(load_intent(EXAMPLES / "gb200-nvl72-1152.yaml"))
    srv = f.devices["role"] == "server"
    per_rack = Counter(f.devices["rack"][srv].tolist())
    assert len(per_rack) == 16 and set(per_rack.values()) == {18}
    assert f.design["gpus"] == 1152 and f.design["scaleup_domain_servers"] == 18
