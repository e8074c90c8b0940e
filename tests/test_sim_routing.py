"""ECMP hash collisions, more QPs, adaptive routing and spraying, and what placement does to them.

The job: all 32 servers of the non-blocking fabric, ring all-reduce. Interleaved placement
(srv-1, srv-17, srv-2, srv-18, ...) makes every ring hop cross the spines, so each rail leaf sends
16 flows up its 16 uplinks; the well-ordered ring (srv-1..srv-32) crosses once per unit boundary."""

import numpy as np
import pytest

from tests.sim_fabrics import interleaved, nonblocking, three_tier
from tokenfab import sim

SIZE = 4 * 2**30
SEEDS = range(20)


@pytest.fixture(scope="module")
def s():
    return sim.Simulator(nonblocking())


def busbw(s, servers, mode, seed=0, qps=1):
    return s.collective_time(
        "all_reduce", s.gpus(servers=servers), SIZE, algorithm="ring", routing=sim.Routing(mode, qps=qps, seed=seed)
    ).busbw_GBps


@pytest.fixture(scope="module")
def spray(s):
    return busbw(s, interleaved(16), "spray")


def test_ecmp_collisions_cost_what_they_cost_in_production(s, spray):
    one_qp = np.array([busbw(s, interleaved(16), "ecmp", k) for k in SEEDS])
    assert np.median(one_qp) <= 0.8 * spray
    assert one_qp.max() > one_qp.min()  # the seed (QP numbers, hash seeds) changes the outcome
    medians = [np.median([busbw(s, interleaved(16), "ecmp", k, qps=q) for k in SEEDS]) for q in (1, 2, 4, 8)]
    assert all(b >= a for a, b in zip(medians, medians[1:])) and medians[-1] > 1.5 * medians[0]


def test_adaptive_routing_gets_close_to_spraying(s, spray):
    for k in range(5):
        assert busbw(s, interleaved(16), "adaptive", k) >= 0.95 * spray


def test_a_well_ordered_ring_barely_suffers(s):
    ordered = "srv-1..srv-32"
    ref = busbw(s, ordered, "spray")
    assert np.median([busbw(s, ordered, "ecmp", k) for k in SEEDS]) >= 0.95 * ref


def test_routing_is_deterministic_per_seed(s):
    assert busbw(s, interleaved(16), "ecmp", 7) == busbw(s, interleaved(16), "ecmp", 7)


def test_one_hash_seed_on_every_switch_polarizes():
    # three tiers, servers alternating between the pods: leaves pick 1 of 16 spines with h mod 16, and
    # a spine with the same seed picks 1 of its 16 cores with the same h mod 16, so each spine sends
    # everything up a single link. Per-switch seeds spread it.
    fabric = three_tier()
    s = sim.Simulator(fabric)
    order = ",".join(f"srv-{i + 1},srv-{i + 33}" for i in range(32))
    L = fabric.links
    up = 2 * np.flatnonzero(L["kind"] == "spine-core")
    used, bw = {}, {}
    for per_switch in (True, False):
        r = s.collective_time(
            "all_reduce",
            s.gpus(servers=order),
            SIZE,
            algorithm="ring",
            routing=sim.Routing("ecmp", seed=1, per_switch_seed=per_switch),
        )
        used[per_switch] = int((r.link_utilization()[up] > 0).sum())
        bw[per_switch] = r.busbw_GBps
    assert used[False] == fabric.design["spines"]  # one uplink per spine
    assert used[True] > 5 * used[False] and bw[True] > 2 * bw[False]


def test_degraded_link_hurts_spraying_but_not_adaptive_routing():
    # every GPU of unit 1 sends to its peer in unit 2: leaf-r1-1's 16 flows go up its 16 uplinks,
    # one of them trained at half speed. Spraying puts 1/16 of every flow on it; adaptive routing
    # sees the leaf's own ports and steers around it. (It sees only its own ports: a degraded link
    # further down the path would hurt it as well.)
    pairs = [(k, k + 16 * 8) for k in range(16 * 8)]
    healthy = sim.Simulator(nonblocking())
    s = sim.Simulator(nonblocking(), faults=sim.Faults(degrade={"leaf-r1-1--spine-1": 0.5}))

    def get(sm, mode):
        return sm.collective_time("send_recv", None, SIZE, pairs=pairs, routing=sim.Routing(mode)).busbw_GBps

    assert get(s, "spray") == pytest.approx(0.5 * get(healthy, "spray"), rel=0.01)
    assert get(s, "adaptive") >= 0.85 * get(healthy, "spray")  # flowlet granularity costs a little
