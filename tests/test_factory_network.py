"""The analytical alpha-beta model: nccl-tests bus bandwidth bounds on placed GPUs, and what
oversubscription, failures and other jobs do to it. Plus the simulator-backed model agreeing
with it where routing cannot matter."""

import numpy as np
import pytest

from tests.conftest import make
from tokenfab import plan
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.network import AnalyticalComm
from tokenfab.workload.comm import Collective, JobTraffic

S = 1 << 30


@pytest.fixture(scope="module")
def clos():
    # 4 scalable units of 24 servers (8 x H100, 8 x 400G), leaves 3:1 oversubscribed (24 down, 8 up)
    return plan(
        make(
            name="t",
            cluster={"servers": 96, "gpus_per_server": 8},
            fabric={"architecture": "rail-optimized", "switch_model": "CX732Q-N", "leaf": {"oversubscription": 3}},
        )
    )


U = 24 * 8  # GPUs per scalable unit


def busbw(t, n, kind="all_reduce"):
    f = 2 * (n - 1) / n if kind == "all_reduce" else (n - 1) / n
    return S / t * f / 1e9


def test_bus_bandwidth_bounds(clos):
    comm = AnalyticalComm(Cluster(clos))
    cfg = comm.config
    nvl = 450 * cfg.nvlink_efficiency
    nic = 50 * cfg.nic_efficiency
    # inside one server: NVLink
    assert busbw(comm.time_s("all_reduce", np.arange(8), S), 8) == pytest.approx(nvl, rel=0.01)
    # 8 GPUs per server over 4 servers: 8 rails -> min(NVLink, 8 x NIC); here NVLink (369.9 < 380 GB/s),
    # which every GPU's NVLink carries all the ring's bytes for. Its bandwidth term, without the latency:
    ring = Collective("all_reduce", np.arange(32).reshape(1, -1), S, "dp")
    t, loads = comm._eval(ring)
    assert t.bottleneck == ("nvlink" if nvl < 8 * nic else "nic")
    assert busbw(t.time_s - comm._alpha(ring, loads), 32) == pytest.approx(min(nvl, 8 * nic), rel=0.01)
    # one GPU per server: one NIC
    assert busbw(comm.time_s("all_reduce", np.arange(4) * 8, S), 4) == pytest.approx(nic, rel=0.01)


def test_oversubscribed_uplinks_bound_a_spread_all_to_all(clos):
    cl = Cluster(clos)
    comm = AnalyticalComm(cl)
    assert clos.design["servers_per_su"] == 24
    inside = np.arange(U)  # all of scalable unit 1
    spread = np.arange(2 * U)  # units 1 and 2: half of every GPU's traffic crosses the spines
    t_in = comm.time(Collective("all_to_all", inside.reshape(1, -1), S, "ep"))
    t_sp = comm.time(Collective("all_to_all", spread.reshape(1, -1), S, "ep"))
    assert t_in.bottleneck == "nic"
    assert "uplinks" in t_sp.bottleneck and t_sp.time_s > t_in.time_s
    # a spine down removes uplink capacity: the spread job slows, the contained one does not
    cl.fail(["spine-1"])
    assert comm.time(Collective("all_to_all", inside.reshape(1, -1), S, "ep")).time_s == pytest.approx(t_in.time_s)
    assert comm.time(Collective("all_to_all", spread.reshape(1, -1), S, "ep")).time_s > t_sp.time_s
    cl.restore(["spine-1"])
    assert comm.time(Collective("all_to_all", spread.reshape(1, -1), S, "ep")).time_s == pytest.approx(t_sp.time_s)


def test_jobs_sharing_uplinks_slow_each_other_and_name_the_links(clos):
    comm = AnalyticalComm(Cluster(clos))
    # two jobs, each half in unit 1 and half in unit 2: both all-to-alls cross the same leaf uplinks
    a = np.concatenate([np.arange(U // 2), U + np.arange(U // 2)])
    b = a + U // 2
    ca = Collective("all_to_all", a.reshape(1, -1), S, "ep", count=10)
    cb = Collective("all_to_all", b.reshape(1, -1), S, "ep", count=10)
    ta, tb = comm.time(ca).time_s, comm.time(cb).time_s
    con = comm.contention([JobTraffic("a", [ca], 10 * ta), JobTraffic("b", [cb], 10 * tb)])
    assert comm.time(ca).bottleneck == "nic"  # alone, the uplinks keep up
    assert con.stretch["a"] > 1.2 and con.stretch["b"] > 1.2
    assert any("uplinks" in n for n in con.contended["a"])
    # the same two jobs inside their own units do not interact
    c = Collective("all_to_all", np.arange(U).reshape(1, -1), S, "ep", count=10)
    d = Collective("all_to_all", (U + np.arange(U)).reshape(1, -1), S, "ep", count=10)
    con = comm.contention([JobTraffic("c", [c], 1.0), JobTraffic("d", [d], 1.0)])
    assert con.stretch == {"c": 1.0, "d": 1.0}


def test_simulator_agrees_where_routing_cannot_matter(clos):
    from tokenfab.factory.simcomm import SimulatorComm

    cl = Cluster(clos)
    sim = SimulatorComm(cl)
    ana = AnalyticalComm(cl)
    # NVLink-only and one-leaf rings: both models give the textbook bound (their efficiencies differ)
    for gpus in (np.arange(8), np.arange(32)):
        t_sim, t_ana = sim.time_s("all_reduce", gpus, S), ana.time_s("all_reduce", gpus, S)
        assert t_sim == pytest.approx(t_ana, rel=0.25)


# -- one switch for every rail (small clusters) --------------------------------------------------
# A single switch per plane takes every rail: there are no uplinks, and every NIC is on it.

SMALL = {"servers": 8, "gpus_per_server": 4}


@pytest.fixture(scope="module")
def one_switch():
    f = plan(make(name="one", cluster=SMALL))
    assert (f.design["tiers"], f.design["leaves"], f.design["spines"]) == (1, 1, 0)
    return f


@pytest.fixture(scope="module")
def two_tier():
    # the same servers under rail leaves in two scalable units of four, joined by spines (1:1)
    return plan(make(name="two", cluster=SMALL, fabric={"tiers": 2, "servers_per_su": 4}))


def _estimate(fabric, tp: int, dp: int):
    from tokenfab.factory.estimate import estimate_alone
    from tokenfab.factory.spec import parse_factory

    spec = parse_factory(
        {
            "name": "f",
            "fabric": "x.yaml",
            "window_h": 1,
            "network": {"model": "analytical"},
            "workloads": {
                "w": {
                    "training": {
                        "model": "llama3-8b",
                        "seq_len": 8192,
                        "global_batch": 64,
                        "parallelism": {"tp": tp, "dp": dp},
                    }
                }
            },
            "jobs": [{"name": "j", "workload": "w", "arrive_h": 0, "steps": 10}],
        }
    )
    ((_name, _kind, e, _head),) = estimate_alone(spec, fabric)
    return e


def test_every_nic_counts_on_its_own_rail_of_one_switch(one_switch):
    cl = Cluster(one_switch)
    # each server's four 400G NICs, one per rail, all on leaf-1 (the switch's rail is 0: every rail)
    assert cl.capacities.nic.shape == (8, 4)
    assert np.all(cl.capacities.nic == 400e9 / 8)
    assert cl.leaf_key_names == ["leaf-1"]
    assert cl.capacities.leaf_up.tolist() == [0.0]  # no uplinks, and none needed


@pytest.mark.parametrize("dp", [4, 8])
def test_training_on_one_switch_is_finite_and_no_slower_than_two_tiers(one_switch, two_tier, dp):
    one, two = _estimate(one_switch, 4, dp), _estimate(two_tier, 4, dp)
    assert np.isfinite(one.step_s) and one.mfu > 0.3
    dp_items = [it for it in one.items if it.collective.parallelism == "dp"]
    assert dp_items and all(it.network and it.bottleneck == "nic" for it in dp_items)
    # a single switch is non-blocking and one hop: never slower than leaves and spines
    assert one.step_s <= two.step_s * (1 + 1e-9)
    assert one.network_idle_s <= two.network_idle_s * (1 + 1e-9)


def test_cross_rail_all_to_all_on_one_switch_is_bound_by_nics(one_switch):
    comm = AnalyticalComm(Cluster(one_switch))
    t = comm.time(Collective("all_to_all", np.arange(32).reshape(1, -1), S, "ep"))
    # each GPU sends 28/32 of S to other servers over its rail's NIC (PXN keeps it rail-aligned)
    assert t.network and t.bottleneck == "nic"
    nic_bytes_s = 400e9 / 8 * comm.config.nic_efficiency
    assert t.time_s == pytest.approx(S * 28 / 32 / nic_bytes_s, rel=0.02)


def test_a_long_job_on_one_switch_counts_the_tokens_it_trained_and_a_stall_is_explained():
    from tests.conftest import EXAMPLES
    from tokenfab.clikit import load_plan_or_intent
    from tokenfab.factory.engine import run_factory
    from tokenfab.factory.kpis import summarize
    from tokenfab.factory.spec import load_factory, variants

    # 100,000 steps do not fit 6 h: the job is still running at the end, with the tokens it trained
    path = EXAMPLES / "factory-one-switch.yaml"
    spec, raw = load_factory(path)
    fabric = load_plan_or_intent(path.parent / spec.fabric)
    (_, base), (_, down) = [(name, run_factory(sp, fabric)) for name, sp in variants(spec, raw)]
    (job,) = summarize(base)["jobs"]
    assert job["status"] == "running" and job["steps"] < 100000
    tokens_per_step = 64 * 8192
    assert job["steps"] == pytest.approx(6 * 3600 / job["step_s"], rel=1e-3)
    assert job["tokens"] == pytest.approx(job["steps"] * tokens_per_step, rel=1e-6) and job["tokens"] > 5e9
    # the switch is down from 3 h to 5 h: the job trains 4 h of the 6, and the timeline says why it stops
    (job_down,) = summarize(down)["jobs"]
    assert job_down["tokens"] == pytest.approx(job["tokens"] * 4 / 6, rel=1e-3)
    stall, resume = [ev for ev in down.events if ev["kind"] == "stall"]
    assert (stall["t_h"], resume["t_h"]) == (3.0, 5.0)
    assert "pretrain cannot communicate (unreachable: srv-1's rail 1 NIC and 31 more NICs have no capacity" in stall["text"]
    assert resume["text"] == "pretrain communicates again: it resumes"


def test_rail_only_and_two_plane_shapes_keep_traffic_on_their_rails(one_switch):
    # rail-only, one leaf per rail and no spine: cross-rail traffic goes over NVLink to the GPU on the
    # peer's rail first (PXN), so an all-to-all takes the same time as on one switch, bound by the NICs
    rail_only = plan(make(name="ro", cluster=SMALL, fabric={"architecture": "rail-only", "cross_rail": "nvlink"}))
    assert (rail_only.design["leaves"], rail_only.design["spines"]) == (4, 0)
    a2a = Collective("all_to_all", np.arange(32).reshape(1, -1), S, "ep")
    t_ro = AnalyticalComm(Cluster(rail_only)).time(a2a)
    t_one = AnalyticalComm(Cluster(one_switch)).time(a2a)
    assert t_ro.bottleneck == "nic" and t_ro.time_s == pytest.approx(t_one.time_s)
    assert Cluster(rail_only).leaf_key_names == ["leaf-r1-1", "leaf-r2-1", "leaf-r3-1", "leaf-r4-1"]
    # two planes, one switch each: every NIC's two ports count on its rail (planes fold together)
    two_planes = plan(
        make(
            name="tp",
            cluster={"servers": 8, "gpus_per_server": 8, "gpu_model": "B200", "nic_model": "ConnectX-8", "planes": 2},
        )
    )
    cl = Cluster(two_planes)
    assert (two_planes.design["tiers"], two_planes.design["leaves"]) == (1, 2)
    assert cl.leaf_key_names == ["leaf-p1-1+leaf-p2-1"] and np.all(cl.capacities.nic == 2 * 400e9 / 8)
    t = AnalyticalComm(cl).time(Collective("all_reduce", (np.arange(8) * 8).reshape(1, -1), S, "dp"))
    assert t.bottleneck == "nic" and np.isfinite(t.time_s)


def test_a_scale_up_domain_sends_over_the_nics_of_the_trays_that_hold_the_gpus():
    # two GB200 NVL72 domains (18 trays x 4 GPUs each, a 400G NIC per GPU): a ring with one GPU per
    # domain goes through that GPU's tray NIC alone, not through all 18 trays' NICs on its rail
    from tests.conftest import EXAMPLES
    from tokenfab import load_intent

    intent = load_intent(EXAMPLES / "nvl72-288.yaml")
    comm = AnalyticalComm(Cluster(plan(intent)))
    one_nic = 400e9 / 8 * comm.config.nic_efficiency
    t = comm.time(Collective("all_reduce", np.array([[0, 72]]), S, "dp"))
    assert t.bottleneck == "nic" and t.time_s == pytest.approx(S / one_nic, rel=0.02)
    # two GPUs per domain, on two trays (same rail): each sends half the ring's bytes over its own NIC
    two = np.array([[0, 4, 72, 76]])
    t = comm.time(Collective("all_reduce", two, S, "dp"))
    assert t.bottleneck == "nic" and t.time_s == pytest.approx(2 * 3 / 4 * S / 2 / one_nic, rel=0.02)
