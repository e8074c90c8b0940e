"""`auto` design search: it never costs more than a design the user could have written by hand,
its estimate is the BOM's figure, breakouts read as people write them, pools size themselves."""

import ipaddress
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenfab import InputError, parse_intent, plan
from tokenfab.catalog import load_catalog
from tokenfab.design import addressing
from tokenfab.design.search import search
from tokenfab.report.tables import bom_rows

CAT = load_catalog()
ETHERNET = sorted(m for m, s in CAT.switches.items() if s.kind == "ethernet")


def network_usd(fabric) -> float:
    """Backend switches, cables and optics from the BOM (what the search's cost objective counts)."""
    return sum(
        r["total_price_usd"] for r in bom_rows(fabric) if r["network"] == "backend" and r["category"] in ("switch", "optic")
    )


def explicit_intents(data: dict):
    """Every architecture / tiers / planes / breakout combination a user could write for `data`,
    enumerated from the catalog independently of the search (modes in the people's form, `4x200G`)."""
    c, f = data["cluster"], data.get("fabric", {})
    sw = CAT.switches[f["switch_model"]]
    nic = CAT.nics[c.get("nic_model", "ConnectX-7")]
    archs = ["rail-optimized"] + (["rail-only"] if f.get("cross_rail") == "nvlink" else [])
    modes = [m.mode.split("[")[0] for m in sw.breakout_modes]
    for arch in archs:
        for tiers in (1, 2, 3):
            for planes in range(1, 9):
                if nic.speed_gbps % planes:
                    continue
                for down in modes:
                    ups = [None] if tiers == 1 else modes
                    for up in ups:
                        for spine_up in [None] if tiers < 3 else modes:
                            fab = {
                                **f,
                                "architecture": arch,
                                "tiers": tiers,
                                "leaf": {**f.get("leaf", {}), "downlink_breakout": down},
                            }
                            if up:
                                fab["leaf"]["uplink_breakout"] = up
                            if spine_up:
                                fab["spine"] = {"uplink_breakout": spine_up}
                            yield {**data, "cluster": {**c, "planes": planes}, "fabric": fab}


def cost_of(data: dict) -> float | None:
    try:
        it = parse_intent(data)
        return search(it, CAT).best.cost_usd
    except InputError:
        return None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(2, 160),
    gpus=st.sampled_from([4, 8]),
    model=st.sampled_from(ETHERNET),
    nic=st.sampled_from(["ConnectX-7", "ConnectX-8"]),
    oversub=st.sampled_from([1, 2, 3]),
    cross=st.sampled_from(["network", "nvlink"]),
)
def test_auto_never_costs_more_than_any_explicit_design(servers, gpus, model, nic, oversub, cross):
    data = {
        "cluster": {"servers": servers, "gpus_per_server": gpus, "nic_model": nic, "planes": "auto"},
        "fabric": {"switch_model": model, "cross_rail": cross, "leaf": {"oversubscription": oversub}},
    }
    explicit = [c for c in (cost_of(d) for d in explicit_intents(data)) if c is not None]
    try:
        fabric = plan(parse_intent(data))
    except InputError:
        assert not explicit, "auto found nothing although an explicit design can be built"
        return
    auto = network_usd(fabric)
    assert explicit, "auto found a design the exhaustive enumeration does not contain"
    assert auto <= min(explicit) + 0.01
    assert auto == pytest.approx(min(explicit))  # and it is one of them: the cheapest


def test_estimate_is_the_boms_figure_with_growth_and_lists():
    for data in (
        {
            "cluster": {"servers": 300, "gpus_per_server": 8, "planes": "auto"},
            "fabric": {"switch_model": ["CX864E-N", "TH5-64x800G", "CX732Q-N"]},
        },
        {"cluster": {"servers": 40, "gpus_per_server": 4}, "fabric": {"cross_rail": "nvlink"}},
        {"cluster": {"servers": 600, "gpus_per_server": 8}, "fabric": {"tiers": 3}},
    ):
        it = parse_intent(data)
        assert network_usd(plan(it)) == pytest.approx(search(it, CAT).best.cost_usd)


def test_a_list_of_models_is_never_worse_than_each_model_alone():
    base = {"cluster": {"servers": 200, "gpus_per_server": 8}}
    models = ["CX864E-N", "TH5-64x800G", "SN5600", "CX732Q-N"]
    together = search(parse_intent({**base, "fabric": {"switch_model": models}}), CAT)
    alone = [search(parse_intent({**base, "fabric": {"switch_model": m}}), CAT).best.cost_usd for m in models]
    assert together.best.cost_usd <= min(alone)
    # per tier: mixed designs (cheap leaves under big spines, say) are candidates too, and here one wins
    assert any(len({c.choice.leaf_model, c.choice.spine_model} - {None}) == 2 for c in together.candidates)
    assert together.best.cost_usd < min(alone)


def test_large_two_tier_needs_breakouts_and_planes_and_auto_finds_them():
    # 2,048 servers x 8 GPUs at 400G: 800G spines hold 64 leaves (one link each), far too few for
    # two tiers; leaf uplinks and spine ports broken out to 4 x 200G make 256-port spines that fit.
    it = parse_intent({"cluster": {"servers": 2048, "gpus_per_server": 8, "planes": "auto"}, "fabric": {"tiers": 2}})
    f = plan(it)
    d = f.design
    assert d["tiers"] == 2 and d["tiers_detail"]["spine"]["down_ports"] == 256
    assert d["tiers_detail"]["spine"]["down_speed_gbps"] == 200
    assert f.intent.fabric.leaf.uplink_breakout == "4x200G[100G]" and f.intent.cluster.planes == 1
    # the same design written by hand, breakouts as people write them, costs the same
    same = plan(
        parse_intent(
            {
                "cluster": {"servers": 2048, "gpus_per_server": 8},
                "fabric": {"tiers": 2, "leaf": {"downlink_breakout": "2x400G", "uplink_breakout": "4x200G"}},
            }
        )
    )
    assert network_usd(same) == network_usd(f)
    assert any(r.startswith("auto chose rail-optimized, 2 tiers, 1 plane") for r in d["reasons"])
    # twice the servers: two tiers only fit with the NICs split into two 200G planes
    big = search(
        parse_intent({"cluster": {"servers": 4096, "gpus_per_server": 8, "planes": "auto"}, "fabric": {"tiers": 2}}), CAT
    )
    assert big.best.choice.planes == 2 and big.best.sizing.tiers == 2
    assert all(not c.feasible for c in big.candidates if c.choice.planes == 1)


def test_breakouts_as_people_write_them_and_as_sonic_names():
    def leaf(mode):
        return plan(
            parse_intent({"cluster": {"servers": 64, "gpus_per_server": 8}, "fabric": {"leaf": {"uplink_breakout": mode}}})
        ).design["tiers_detail"]["leaf"]

    assert leaf("2x400G") == leaf("2x400G[200G]") == leaf("2X400G")
    assert leaf("800G")["up_breakout"] == "1x800G[400G]"
    with pytest.raises(InputError, match=r"no breakout mode '3x100G'.*4x200G \(4x200G\[100G\]\)"):
        leaf("3x100G")


def test_objective_changes_the_winner_and_notes_say_why():
    base = {"cluster": {"servers": 96, "gpus_per_server": 8}, "fabric": {"switch_model": ["CX864E-N", "CX732Q-N"]}}
    by = {
        o: search(parse_intent({**base, "fabric": {**base["fabric"], "objective": o}}), CAT)
        for o in ("cost", "switches", "power")
    }
    assert by["switches"].best.switches == min(c.switches for c in by["cost"].candidates if c.feasible)
    assert by["power"].best.power_w == min(c.power_w for c in by["cost"].candidates if c.feasible)
    assert by["cost"].best.cost_usd == min(c.cost_usd for c in by["cost"].candidates if c.feasible)
    notes = by["cost"].notes
    assert notes[0].startswith("auto chose") and "best by cost of" in notes[0]
    assert all(n.startswith("  not ") for n in notes[1:-1]) and "--explain" in notes[-1]
    assert any("+$" in n for n in notes[1:-1])  # each loser says by how much it lost


def test_pools_sized_when_unset_and_errors_name_the_size_when_set():
    # 262,144 GPUs: the default /14 of point-to-point /31s is too small (searched only; the benchmark builds it)
    result = search(parse_intent({"cluster": {"servers": 32768, "gpus_per_server": 8}}), CAT)
    sz = result.best.sizing
    it, notes = addressing.resolve_pools(result.best.intent, sz)
    assert notes and notes[0].startswith("addressing.p2p: ") and "the default 10.4.0.0/14 holds 262,144" in notes[0]
    need = addressing.needs(it, sz)
    for pool in ("loopbacks", "management", "p2p", "servers"):
        assert ipaddress.IPv4Network(getattr(it.addressing, pool)).num_addresses >= need[pool]
    parse_intent(it.model_dump(mode="json"))  # the moved pools overlap nothing
    # a pool the user set stays theirs: too small is an error naming the size it needs
    small = {"cluster": {"servers": 256, "gpus_per_server": 8}, "addressing": {"p2p": "10.4.0.0/22"}}
    with pytest.raises(
        InputError,
        match=r"addressing.p2p: pool 10.4.0.0/22 has 512 addresses for leaf-spine /31s; "
        r"the design needs \d+ \(a /20 or larger\)",
    ):
        plan(parse_intent(small))
    # defaults that fit are kept as they are
    f = plan(parse_intent({"cluster": {"servers": 256, "gpus_per_server": 8}}))
    assert f.intent.addressing.p2p == "10.4.0.0/14" and not any(r.startswith("addressing.") for r in f.design["reasons"])


def test_fixed_choice_keeps_its_own_error_and_field():
    with pytest.raises(InputError, match=r"^fabric.tiers: one tier needs"):
        plan(parse_intent({"cluster": {"servers": 128, "gpus_per_server": 8}, "fabric": {"tiers": 1}}))


def test_plan_explain_prints_every_candidate(tmp_path):
    intent = tmp_path / "i.yaml"
    intent.write_text("cluster: {servers: 64, gpus_per_server: 8, planes: auto}\n")
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "plan", str(intent), "-o", str(tmp_path / "o"), "--explain"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 0, r.stderr
    n = len(search(parse_intent({"cluster": {"servers": 64, "gpus_per_server": 8, "planes": "auto"}}), CAT).candidates)
    assert f"design search: {n} candidates" in r.stdout
    assert "chosen" in r.stdout and "infeasible:" in r.stdout


def test_a_switch_over_the_rack_power_budget_is_not_chosen():
    data = {
        "cluster": {"servers": 64, "gpus_per_server": 8},
        "fabric": {"switch_model": ["TH5-64x800G", "CX864E-N"], "objective": "switches"},
        "power_w": {"CX864E-N": 45000},
    }
    result = search(parse_intent(data), CAT)
    assert {result.best.choice.leaf_model, result.best.choice.spine_model} == {"TH5-64x800G"}
    assert any("one CX864E-N draws 45000 W; the rack budget is 40000 W" in c.verdict for c in result.candidates)
