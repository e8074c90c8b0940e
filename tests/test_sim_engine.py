"""Max-min fairness and the event loop, on hand-checked cases and random ones."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfab.sim.engine import max_min_rates, run


def test_textbook_max_min():
    # f0 crosses both links, f1 only link 0, f2 only link 1 (unit capacities): all get 1/2
    A = sp.csr_matrix(np.array([[1, 1], [1, 0], [0, 1.0]]))
    assert max_min_rates(A, np.array([1.0, 1.0])) == pytest.approx([0.5, 0.5, 0.5])
    # a bigger second link: f2 takes what f0 leaves
    assert max_min_rates(A, np.array([1.0, 3.0])) == pytest.approx([0.5, 0.5, 2.5])
    # coefficients: a ring with two hops on one link moves at half that link's rate
    assert max_min_rates(sp.csr_matrix(np.array([[2.0]])), np.array([1.0])) == pytest.approx([0.5])


def test_rates_are_recomputed_when_flows_finish():
    A = sp.csr_matrix(np.array([[1.0], [1.0]]))
    res = run(A, np.array([2.0]), np.array([1.0, 3.0]))
    # both at 1 until the short one ends at t=1, then the long one at 2: 2 bytes left -> t=2
    assert res.finish_s == pytest.approx([1.0, 2.0])
    assert res.event_s == pytest.approx([0.0, 1.0, 2.0])
    assert res.resource_bytes == pytest.approx([4.0])


def test_late_starts_and_stalls():
    A = sp.csr_matrix(np.array([[1.0], [1.0]]))
    res = run(A, np.array([1.0]), np.array([1.0, 1.0]), start_s=np.array([0.0, 10.0]), stall_per_byte=np.array([1.0, 0.0]))
    # the first alone: goodput 1 / (1/1 + 1) = 0.5 -> 2 s; the second starts at 10 and takes 1 s
    assert res.finish_s == pytest.approx([2.0, 11.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_max_min_is_feasible_and_every_flow_has_a_bottleneck(G, R, seed):
    rng = np.random.default_rng(seed)
    dense = rng.random((G, R)) * (rng.random((G, R)) < 0.5)
    dense[np.arange(G), rng.integers(0, R, G)] += rng.random(G) + 0.1  # every flow crosses something
    cap = rng.random(R) + 0.1
    A = sp.csr_matrix(dense)
    x = max_min_rates(A, cap)
    load = A.T @ x
    assert (load <= cap * (1 + 1e-9)).all()
    # max-min optimality: each flow crosses a saturated resource where no flow is faster
    for g in range(G):
        on = np.flatnonzero(dense[g] > 0)
        sat = on[load[on] >= cap[on] * (1 - 1e-7)]
        assert any(x[g] >= x[dense[:, r] > 0].max() * (1 - 1e-7) for r in sat)


def test_link_load_over_time_adds_up_to_the_bytes_moved():
    from tests.sim_fabrics import nonblocking
    from tokenfab import sim

    s = sim.Simulator(nonblocking())
    r = s.sweep(
        "all_to_all", s.gpus(servers="srv-1,srv-17,srv-2"), [2**26], record_links=True, routing=sim.Routing("ecmp", seed=3)
    )[0]
    times, loads, ids = r.timeline()
    assert len(loads) == len(times) - 1 and times[-1] == pytest.approx(r.bandwidth_s)
    moved = sum(ld.astype(np.float64) * dt for ld, dt in zip(loads, np.diff(times)))
    assert moved == pytest.approx(r.run.resource_bytes[ids] * r.scale, rel=1e-5, abs=1.0)
    assert r.group_finish_s.max() == pytest.approx(r.bandwidth_s)
    u = r.link_utilization()
    assert 0 < u.max() <= 1 + 1e-9
