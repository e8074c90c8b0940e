"""Invariants every design keeps, over generated intents."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make
from tokenfab import InfeasibleError, plan
from tokenfab.design.invariants import check

intents = st.fixed_dictionaries(
    {
        "cluster": st.fixed_dictionaries(
            {
                "servers": st.integers(1, 600),
                "gpus_per_server": st.sampled_from([4, 8]),
                "nic_model": st.sampled_from(["ConnectX-7", "ConnectX-8"]),
                "planes": st.sampled_from([1, 2]),
            }
        ),
        "fabric": st.fixed_dictionaries(
            {
                "architecture": st.sampled_from(["auto", "rail-only", "rail-optimized"]),
                "cross_rail": st.sampled_from(["network", "nvlink"]),
                "switch_model": st.sampled_from(["CX864E-N", "SN5600", "TH4-64x400G", "CX732Q-N"]),
                "leaf": st.fixed_dictionaries({"oversubscription": st.sampled_from([1.0, 1.5, 2.0, 3.0])}),
            }
        ),
        "addressing": st.fixed_dictionaries({"server_links": st.sampled_from(["vlan", "p31"])}),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(intents)
def test_every_design_keeps_the_invariants(data):
    try:
        intent = make(**data)
        f = plan(intent)
    except InfeasibleError as exc:
        assert any(ch.isdigit() for ch in str(exc)), f"infeasible without numbers: {exc}"
        return
    assert check(f) == []
    d = f.design
    assert d["servers"] == data["cluster"]["servers"]
    if d["architecture"] == "rail-only":
        assert data["fabric"]["architecture"] == "rail-only" or data["fabric"]["cross_rail"] == "nvlink"


def test_check_catches_a_port_used_twice():
    f = plan(make(cluster={"servers": 16, "gpus_per_server": 4}))
    L = f.links
    same_leaf = [int(i) for i in (L["b"] == L["b"][0]).nonzero()[0]]
    L.columns["b_port"][same_leaf[1]] = L["b_port"][same_leaf[0]]
    assert any("ports used twice" in v and L["b_port"][0] in v for v in check(f))


def test_check_catches_an_uneven_spread_and_a_shared_asn():
    f = plan(make(cluster={"servers": 64, "gpus_per_server": 4}))
    L, D = f.links, f.devices
    up = [int(i) for i in ((L["kind"] == "leaf-spine") & (L["a"] == 0)).nonzero()[0]]
    L.columns["b"][up[0]] = L["b"][up[-1]]  # one leaf now has 17 links to one spine and 15 to the other
    D.columns["asn"][1] = D["asn"][0]
    problems = check(f)
    assert any("uneven" in p for p in problems) and any("leaf ASNs repeat" in p for p in problems)
