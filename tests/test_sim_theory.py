"""The simulator against theory. Placement and ring order are stated in each test; sizes are large
enough that the latency term is below 1% unless the test is about latency."""

import numpy as np
import pytest

from tests.sim_fabrics import interleaved, nonblocking, oversubscribed
from tokenfab import sim
from tokenfab.catalog import load_catalog

EXACT = sim.SimParams(efficiency=1.0, nvlink_efficiency=1.0, nvls=False)  # line rate everywhere, rings only
SPRAY = sim.Routing("spray")
BIG = 16 * 2**30


def ring_busbw(fabric, servers=None, faults=None, params=EXACT, routing=SPRAY, size=BIG):
    s = sim.Simulator(fabric, params, faults)
    return s.collective_time("all_reduce", s.gpus(servers=servers), size, algorithm="ring", routing=routing)


@pytest.mark.parametrize("gpu, nvlink_GBps", [("H100", 450), ("H800", 200)])
def test_ring_all_reduce_reaches_min_of_nvlink_and_the_nics(gpu, nvlink_GBps):
    # 32 servers in order srv-1..srv-32: every channel's ring crosses the spines twice
    r = ring_busbw(nonblocking(gpu))
    expect = min(nvlink_GBps, 8 * 400 / 8)
    assert r.busbw_GBps == pytest.approx(expect, rel=0.01)
    assert r.latency_s < 0.01 * r.time_s


def test_all_to_all_gets_one_nic_per_gpu():
    # every GPU sends 1/n of its buffer to every other; with PXN each NIC carries the bytes of its
    # server's GPUs for the GPUs on its rail: busbw = B_nic * N/(N-1) * (n-1)/n
    s = sim.Simulator(nonblocking(), EXACT)
    r = s.collective_time("all_to_all", s.gpus(), 2**30, routing=SPRAY)
    n, N = 256, 32
    assert r.busbw_GBps == pytest.approx(50 * N / (N - 1) * (n - 1) / n, rel=0.01)


def test_small_messages_follow_the_latency_term():
    fabric = nonblocking()
    s = sim.Simulator(fabric, EXACT)
    p = s.net.params
    r8 = s.collective_time("all_reduce", s.gpus(), 8, algorithm="ring", routing=SPRAY)
    r1k = s.collective_time("all_reduce", s.gpus(), 1024, algorithm="ring", routing=SPRAY)
    # independent of the simulator's routing: the longest path is NIC-leaf-spine-leaf-NIC
    L = fabric.links
    longest_m = 2 * L["length_m"][L["kind"] == "nic"].max() + 2 * L["length_m"][L["kind"] == "leaf-spine"].max()
    path_s = longest_m * 5e-9 + 3 * load_catalog().switches["CX732Q-N"].latency_ns * 1e-9
    n, N = 256, 32
    inter = 2 * (N - 1)
    expect = p.base_latency_s + (2 * (n - 1) - inter) * p.nvlink_step_s + inter * (p.net_step_s + path_s)
    assert r8.time_s == pytest.approx(expect, rel=0.01)
    assert r1k.time_s == pytest.approx(r8.time_s, rel=0.01)  # the size does not show yet
    big = s.collective_time("all_reduce", s.gpus(), BIG, algorithm="ring", routing=SPRAY)
    assert big.bandwidth_s > 50 * big.latency_s


def test_two_to_one_oversubscription_halves_traffic_that_saturates_the_spines():
    # servers alternate between the units (srv-1, srv-22, srv-2, srv-23, ...): every hop crosses the
    # spines and each rail leaf sends 21 x 400G up 21 x 200G uplinks
    over = ring_busbw(oversubscribed(), interleaved(21))
    assert over.busbw_GBps == pytest.approx(400 / 2, rel=0.01)
    # sprayed evenly: every uplink of every leaf (3 parallel links to each of 7 spines) is full
    L = oversubscribed().links
    up = 2 * np.flatnonzero(L["kind"] == "leaf-spine")
    assert over.link_utilization()[up] == pytest.approx(np.ones(len(up)), rel=0.01)
    full = ring_busbw(nonblocking(), interleaved(16))
    assert full.busbw_GBps == pytest.approx(400, rel=0.01)


@pytest.mark.parametrize("down", ["leaf-r1-1--spine-1", "spine-5"])
def test_one_of_k_uplinks_down_costs_one_kth(down):
    # interleaved ring on the non-blocking fabric: leaves saturate their k = 16 uplinks
    ok = ring_busbw(nonblocking(), interleaved(16))
    r = ring_busbw(nonblocking(), interleaved(16), faults=sim.Faults(down=(down,)))
    assert r.busbw_GBps == pytest.approx(ok.busbw_GBps * 15 / 16, rel=0.005)


def test_default_efficiency_lands_where_connectx7_clusters_measure():
    r = ring_busbw(nonblocking(), params=sim.SimParams(), routing=sim.Routing("ecmp"))
    assert 46 <= r.busbw_GBps / 8 <= 49


@pytest.mark.parametrize("collective, factor", [("all_gather", 1), ("reduce_scatter", 1), ("broadcast", 1), ("reduce", 1)])
def test_other_ring_collectives_reach_the_nic_bound(collective, factor):
    s = sim.Simulator(nonblocking(), EXACT)
    r = s.collective_time(collective, s.gpus(servers="srv-1..srv-4"), BIG, routing=SPRAY)
    assert r.busbw_GBps == pytest.approx(400 * factor, rel=0.01)


def test_double_binary_tree_matches_the_ring_at_large_sizes_and_wins_small():
    s = sim.Simulator(nonblocking(), EXACT)
    gpus = s.gpus()
    tree = s.collective_time("all_reduce", gpus, BIG, algorithm="tree", routing=SPRAY)
    ring = s.collective_time("all_reduce", gpus, BIG, algorithm="ring", routing=SPRAY)
    assert tree.busbw_GBps == pytest.approx(ring.busbw_GBps, rel=0.01)
    small_tree = s.collective_time("all_reduce", gpus, 4096, algorithm="tree", routing=SPRAY)
    small_ring = s.collective_time("all_reduce", gpus, 4096, algorithm="ring", routing=SPRAY)
    assert small_tree.time_s < small_ring.time_s / 4
    assert s.collective_time("all_reduce", gpus, 4096, routing=SPRAY).algorithm == "tree"  # auto


def test_send_recv_and_single_server_groups():
    s = sim.Simulator(nonblocking(), EXACT)
    inside = s.collective_time("all_reduce", s.gpus(8), BIG, routing=SPRAY)
    assert inside.n_servers == 1 and inside.busbw_GBps == pytest.approx(450, rel=0.01)
    pair = s.collective_time("send_recv", ["srv-1:gpu3", "srv-20:gpu3"], BIG, routing=SPRAY)
    assert pair.busbw_GBps == pytest.approx(50, rel=0.01)


def test_nccl_tests_size_semantics():
    assert sim.parse_size("1M") == 2**20 and sim.parse_size("16G") == 16 * 2**30 and sim.parse_size("8") == 8
    assert sim.size_series(2**20, 2**23, 2) == [2**20, 2**21, 2**22, 2**23]
    # all_gather: per-rank count aligned to 4 elements, size printed = the receive buffer
    sz = sim.nccl_sizes("all_gather", 1000 * 4, 16, 4)
    assert (sz.count, sz.size_bytes, sz.bus_bytes) == (60, 60 * 16 * 4, 60 * 16 * 4)
    sz = sim.nccl_sizes("all_to_all", 1000 * 4, 16, 4)
    assert (sz.count, sz.size_bytes) == (62, 62 * 16 * 4)
    assert sim.nccl_sizes("all_reduce", 4096, 16, 4).count == 1024
