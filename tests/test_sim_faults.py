"""Packet loss under go-back-N and selective repeat, jitter, failures, and several jobs at once."""

import pytest

from tests.sim_fabrics import interleaved, nonblocking, oversubscribed
from tokenfab import InputError, sim
from tokenfab.sim.faults import goodput_efficiency, harmonic, timeouts_per_packet

SIZE = 2**30


def ring(faults=None, size=SIZE, routing="spray", fabric=None):
    return sim.collective_time(
        fabric or nonblocking(), "all_reduce", None, size, algorithm="ring", routing=routing, faults=faults
    )


def test_loss_formulas():
    assert goodput_efficiency(0.01, 100, "go-back-n") == pytest.approx(0.99 / (1 + 99 * 0.01))
    assert goodput_efficiency(0.01, 100, "selective-repeat") == pytest.approx(0.99)
    # go-back-N: a second loss among the W packets resent waits for a timeout; selective repeat never
    assert timeouts_per_packet(0.01, 100, "go-back-n") == pytest.approx(0.01 * (1 - 0.99**100))
    assert timeouts_per_packet(0.01, 100, "selective-repeat") == 0.0
    assert harmonic(1) == 1.0 and harmonic(4) == pytest.approx(1 + 1 / 2 + 1 / 3 + 1 / 4)


def test_packet_loss_falls_off_a_cliff():
    clean = ring().busbw_GBps
    probs = [1e-7, 1e-5, 1e-4, 1e-3, 1e-2]
    gbn = [ring(sim.Faults(loss=p)).busbw_GBps for p in probs]
    sr = [ring(sim.Faults(loss=p, recovery="selective-repeat")).busbw_GBps for p in probs]
    assert gbn[0] == pytest.approx(clean, rel=0.01)  # rare loss is invisible
    assert all(b < a for a, b in zip(gbn, gbn[1:]))
    assert gbn[-1] < 0.05 * clean  # heavy loss: timeouts dominate
    assert all(s >= g for s, g in zip(sr, gbn))
    # without timeouts (a very short RTO) the gap is go-back-N's resent window
    fast = dict(loss=1e-3, rto_s=1e-9)
    assert ring(sim.Faults(recovery="selective-repeat", **fast)).busbw_GBps > 1.2 * ring(sim.Faults(**fast)).busbw_GBps


def test_jitter_adds_the_expected_maximum_per_network_step():
    a = ring(size=8)
    b = ring(sim.Faults(jitter_s=1e-6), size=8)
    N, C = 32, 8  # servers, channels: 256 network hops per step, 2(N-1) network steps
    assert b.latency_s - a.latency_s == pytest.approx(2 * (N - 1) * 1e-6 * harmonic(N * C), rel=1e-6)
    c = ring(sim.Faults(extra_latency_s=1e-6), size=8)
    assert c.latency_s - a.latency_s == pytest.approx(2 * (N - 1) * 4 * 1e-6, rel=1e-6)  # 4 links per path


def test_bad_faults_are_refused():
    with pytest.raises(InputError, match="no link between"):
        ring(sim.Faults(down=("leaf-r1-1--leaf-r2-1",)))
    with pytest.raises(InputError, match="no device"):
        ring(sim.Faults(down=("spine-99",)))
    with pytest.raises(InputError, match="srv-1:nic1"):
        ring(sim.Faults(down=("srv-1:nic1",)))
    with pytest.raises(InputError, match="probability"):
        sim.Faults(loss=1.5)


def test_jobs_alone_and_together():
    fabric = oversubscribed()
    # each job alone fits under the 2:1 leaves (10 of 21 servers per unit); together they do not
    a = sim.Job("all_reduce", SIZE, servers=interleaved(21, 1, 10), algorithm="ring", name="a")
    b = sim.Job("all_reduce", SIZE, servers=interleaved(21, 11, 10), algorithm="ring", name="b")
    out = sim.run_jobs(fabric, [a, b], routing="spray")
    p = sim.SimParams()
    # alone: 10 x 400G up 21 x 200G fits, so the ring runs at min(NVLink, NICs) with their protocol
    # efficiencies; together 20 flows share 21 x 200G: 210G each
    alone_GBps = min(450 * p.nvlink_efficiency, 400 / 8 * 8 * p.efficiency)
    for j in out.jobs:
        assert (j.time_s - j.latency_s) / (j.alone_s - j.latency_s) == pytest.approx(alone_GBps / (210 * p.efficiency), rel=0.01)
        assert j.slowdown > 1.5
    # units apart: no shared link, no slowdown
    c = sim.Job("all_reduce", SIZE, servers="srv-1..srv-10", algorithm="ring")
    d = sim.Job("all_reduce", SIZE, servers="srv-22..srv-31", algorithm="ring")
    assert [j.slowdown for j in sim.run_jobs(fabric, [c, d], routing="ecmp").jobs] == [1.0, 1.0]
    with pytest.raises(InputError, match="more than one job"):
        sim.run_jobs(fabric, [c, c])
    # a later start: the second job alone until the first begins
    late = sim.run_jobs(
        fabric, [a, sim.Job("all_reduce", SIZE, servers=interleaved(21, 11, 10), algorithm="ring", start_s=1.0)], routing="spray"
    )
    assert [j.slowdown for j in late.jobs] == pytest.approx([1.0, 1.0])


def test_gpu_selection_errors():
    s = sim.Simulator(nonblocking())
    with pytest.raises(InputError, match="larger than the cluster"):
        s.gpus(257)
    with pytest.raises(InputError, match="no server"):
        s.gpus(servers="srv-1,srv-99")
    with pytest.raises(InputError, match="same local GPUs"):
        s.collective_time("all_reduce", ["srv-1:gpu0", "srv-2:gpu1"], SIZE)
    assert list(s.gpus(servers="srv-3..srv-2")) == list(range(16, 24)) + list(range(8, 16))
