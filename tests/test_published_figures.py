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
    assert multi.busbw_GBps == pytest.approx(min(450 * s.net.params.nvlink_efficiency, 400 * s.net.params.efficiency),
                                             rel=0.01)
