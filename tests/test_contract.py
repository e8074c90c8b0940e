"""The code's own contract: help text on every intent field, one naming rule for names that become
Kubernetes/Slurm objects."""

import pytest
from pydantic import BaseModel

from tokenfab import InputError, parse_intent
from tokenfab.design.contract import DesignSummary, Expectations
from tokenfab.intent import Intent


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    """`root` and every model reachable through its fields."""
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for f in m.model_fields.values():
            stack = [f.annotation]
            while stack:
                t = stack.pop()
                if isinstance(t, type) and issubclass(t, BaseModel):
                    todo.append(t)
                stack += list(getattr(t, "__args__", ()))
    return seen


@pytest.mark.parametrize("root", [Intent, DesignSummary, Expectations])
def test_every_field_has_a_description(root):
    missing = [f"{m.__name__}.{n}" for m in _models(root) for n, f in m.model_fields.items() if not f.description]
    assert len(_models(root)) > 1
    assert missing == []


def test_the_schema_shows_the_descriptions():
    props = Intent.model_json_schema()["$defs"]["Cluster"]["properties"]
    assert props["planes"]["description"].startswith("a NIC's ports split over")


@pytest.mark.parametrize("name", ["a", "gpu-fabric-1", "x" * 32, "9a"])
def test_names_valid_for_kubernetes_and_slurm_are_accepted(name):
    assert parse_intent({"name": name, "cluster": {"servers": 4}}).name == name


@pytest.mark.parametrize("name", ["fabric-", "-fabric", "Fabric", "a_b", "a.b", "x" * 33, ""])
def test_names_invalid_for_kubernetes_or_slurm_are_refused_with_the_rule(name):
    with pytest.raises(InputError) as exc:
        parse_intent({"name": name, "cluster": {"servers": 4}})
    assert "name: must be 1 to 32 lowercase letters, digits and '-', starting and ending with a letter or digit" in str(exc.value)
    assert repr(name) in str(exc.value)


def test_huge_counts_are_explained_in_exact_integers():
    from tokenfab import InfeasibleError, plan

    with pytest.raises(InfeasibleError) as exc:
        plan({"cluster": {"servers": 10**30}})
    msg = str(exc.value)
    # every candidate the search weighed says why it fails, in exact integers (no float noise)
    assert "1,953,125,000,000,000,000,000,000,000 pods x 128 uplinks" in msg and "e+" not in msg
