"""Placement policies over random arrivals and departures (hypothesis)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make
from tokenfab import plan
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.scheduler import POLICIES, Inventory, place


@pytest.fixture(scope="module")
def cluster():
    # 4 scalable units of 6 servers x 4 GPUs
    return Cluster(
        plan(
            make(
                name="s",
                cluster={"servers": 24, "gpus_per_server": 4},
                fabric={"architecture": "rail-optimized", "servers_per_su": 6, "switch_model": "CX732Q-N"},
            )
        )
    )


ops = st.lists(
    st.tuples(st.sampled_from([1, 2, 4, 8, 12, 16, 24, 40]), st.sampled_from(["a", "b", "c"]), st.booleans()),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops, policy=st.sampled_from(sorted(POLICIES)))
def test_placements_are_exclusive_and_shaped(cluster, ops, policy):
    inv = Inventory(cluster)
    pol = POLICIES[policy]()
    G = cluster.gpus_per_server
    live = []
    for size, tenant, release in ops:
        if release and live:
            gpus, t = live.pop(0)
            inv.give_back(gpus, t)
        free_servers = int(inv.free_servers().sum())
        su_free = np.bincount(cluster.su[inv.free_servers()], minlength=cluster.n_su + 1)
        got = place(inv, pol, [size], tenant)  # Inventory.take asserts no GPU is taken twice
        if got is None:
            if size >= G:
                assert free_servers < size // G
            continue
        live.append((got, tenant))
        assert len(got) == size == len(np.unique(got))
        servers = np.unique(got // G)
        if size >= G:
            assert len(servers) == size // G  # whole servers
            if policy == "topology-aware" and su_free.max() >= size // G:
                assert len(np.unique(cluster.su[servers])) == 1  # one scalable unit when one can hold it
        else:
            assert len(servers) == 1
    used = inv.used_mask.sum()
    assert used == sum(len(g) for g, _ in live)
    assert (inv.free == G - inv.used_mask.sum(axis=1)).all()


def test_topology_aware_keeps_tenants_apart_when_it_can(cluster):
    inv = Inventory(cluster)
    pol = POLICIES["topology-aware"]()
    a = place(inv, pol, [8], "a")  # 2 servers
    b = place(inv, pol, [8], "b")

    def su(g):
        return set(cluster.su[np.unique(g // 4)].tolist())

    assert su(a) != su(b)  # b avoids the unit a uses while another is empty
    a2 = place(inv, pol, [8], "a")
    assert su(a2) == su(a)  # a's own unit is fine for a


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_allowed_servers_are_respected(cluster, policy):
    # the hook tenant constraints use: a tenant limited to scalable unit 4 is placed only there
    inv = Inventory(cluster)
    inv.allowed["c"] = cluster.su == 4
    pol = POLICIES[policy]()
    got = place(inv, pol, [8], "c")
    assert set(cluster.su[np.unique(got // 4)].tolist()) == {4}
    assert place(inv, pol, [4 * 7], "c") is None  # unit 4 has 6 servers
