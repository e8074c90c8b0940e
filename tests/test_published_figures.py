"""The simulator against published measurements (each figure and its source in the test's doc);
the README's validation table lists the same rows."""

import pytest

from tests.sim_fabrics import nonblocking
from tokenfab import InputError, sim

BIG = 8 * 2**30
SPRAY = sim.Routing("spray")


def one_server(algorithm: str, gpu: str = "H100", **params):
    s = sim.Simulator(nonblocking(gpu), sim.SimParams(**params))
    return s.collective_time("all_reduce", s.gpus(8), BIG, algorithm=algorithm, routing=SPRAY)


def test_ring_all_reduce_on_8_h100_over_nvlink():
    """nccl-tests, NCCL_ALGO=Ring, 8 H100 SXM: ~370 GB/s busbw (NVIDIA, nccl-tests issue #212)."""
    r = one_server("ring")
    assert r.algorithm == "ring" and r.n_servers == 1
    assert r.busbw_GBps == pytest.approx(370, rel=0.02)


def test_nvls_all_reduce_on_8_h100():
    """NVLink SHARP all-reduce on 8 H100: ~480 GB/s busbw, ~275 GB/s algbw (nccl-tests issue #212)."""
    r = one_server("nvls")
    assert r.algorithm == "nvls"
    assert r.busbw_GBps == pytest.approx(480, rel=0.02)
    assert r.algbw_GBps == pytest.approx(275, rel=0.02)
    # auto takes the faster: NVLS on large buffers
    assert one_server("auto").algorithm == "nvls"
    # switched off, or on a GPU without it, auto falls back to the ring and asking for it is refused
    assert one_server("auto", nvls=False).algorithm == "ring"
    with pytest.raises(InputError, match="NVLink SHARP"):
        one_server("nvls", nvls=False)
    s = sim.Simulator(nonblocking())
    with pytest.raises(InputError, match="one NVLink domain"):
        s.collective_time("all_reduce", s.gpus(16), BIG, algorithm="nvls")


def test_nvlink_and_nic_efficiencies_are_separate():
    # the ring inside a server is NVLink-bound at its own efficiency; across servers the NICs bound it
    r = one_server("ring", nvlink_efficiency=1.0)
    assert r.busbw_GBps == pytest.approx(450, rel=0.01)
    s = sim.Simulator(nonblocking())
    multi = s.collective_time("all_reduce", s.gpus(), BIG, algorithm="ring", routing=SPRAY)
    assert multi.busbw_GBps == pytest.approx(min(450 * s.net.params.nvlink_efficiency, 400 * s.net.params.efficiency), rel=0.01)


def pair_goodput(loss: float = 0.0, recovery: str = "go-back-n", scope: str = "path") -> float:
    """One RoCE connection between two servers (a send_recv pair across the spines), GB/s."""
    faults = sim.Faults(loss=loss, recovery=recovery, loss_scope=scope)
    return sim.collective_time(nonblocking(), "send_recv", ["srv-1:gpu0", "srv-20:gpu0"], BIG, faults=faults).busbw_GBps


def test_selective_repeat_keeps_99_percent_at_1_percent_loss():
    """Selective repeat resends only the lost packets: 1% loss keeps ~99% of goodput."""
    clean = pair_goodput()
    assert pair_goodput(0.01, "selective-repeat") / clean == pytest.approx(0.99, abs=0.005)


def test_go_back_n_collapses_at_and_above_1_percent_loss():
    """Wang et al., "Error Recovery of RDMA Packets in Data Center Networks" (ICCCN 2019): RoCE
    go-back-N's relative throughput drops to nearly zero when the loss rate reaches 1%."""
    clean = pair_goodput()
    rel = {p: pair_goodput(p) / clean for p in (1e-5, 1e-4, 1e-3, 1e-2, 3e-2)}
    assert rel[1e-5] > 0.99 and rel[1e-4] > 0.9  # rare loss is nearly free
    assert 0.2 < rel[1e-3] < 0.8  # the cliff's edge
    assert rel[1e-2] < 0.03 and rel[3e-2] < 0.01  # near zero at and above 1%
    assert all(b < a for a, b in zip(rel.values(), list(rel.values())[1:]))


def test_loss_per_link_compounds_over_the_path():
    # the pair crosses NIC-leaf-spine-leaf-NIC: 4 links; per-link p is a path loss of 1-(1-p)^4
    p = 1e-3
    per_link = pair_goodput(p, scope="link")
    assert per_link == pytest.approx(pair_goodput(1 - (1 - p) ** 4, scope="path"), rel=1e-6)
    assert per_link < pair_goodput(p, scope="path")
    with pytest.raises(InputError, match="per-path loss is one probability"):
        sim.Faults(loss={"spine-1": 0.01}, loss_scope="path")
    with pytest.raises(InputError, match="loss scope"):
        sim.Faults(loss=0.01, loss_scope="hop")
