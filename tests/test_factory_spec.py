"""The factory description: every field documented, each layer checking its own references, and
every bad reference reported in one error."""

import re
import typing

import pytest
from pydantic import BaseModel

from tokenfab.errors import InputError
from tokenfab.factory.spec import FactorySpec, parse_factory
from tokenfab.workload.inference import InferenceSpec
from tokenfab.workload.training import TrainingSpec


def _models(cls: type[BaseModel], seen: set) -> None:
    if cls in seen or cls in (TrainingSpec, InferenceSpec):  # the workload models document their own fields
        return
    seen.add(cls)
    for f in cls.model_fields.values():
        stack = [f.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                _models(t, seen)
            stack.extend(typing.get_args(t))


def test_every_factory_field_has_a_description():
    models: set = set()
    _models(FactorySpec, models)
    assert len(models) > 25
    missing = [f"{m.__name__}.{name}" for m in models for name, f in m.model_fields.items() if not f.description]
    assert missing == []
    schema = FactorySpec.model_json_schema()
    assert "description" in schema["properties"]["window_h"]


BASE = {
    "name": "f",
    "fabric": "x.yaml",
    "window_h": 1,
    "tenants": [{"name": "a"}, {"name": "b"}],
    "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 10, "read_gbytes_per_s": 10, "write_gbytes_per_s": 10}]},
    "workloads": {
        "t": {"training": {"model": "llama3-8b", "parallelism": {"tp": 8, "dp": 1}, "global_batch": 8, "seq_len": 4096}}
    },
}


def test_every_bad_reference_is_reported_at_once():
    data = dict(
        BASE,
        jobs=[
            {"name": "j", "tenant": "nobody", "workload": "nope"},
            {"name": "j", "tenant": "a", "workload": "t", "dataset": "missing"},
        ],
        datasets=[{"name": "d", "tenant": "a", "tier": "nvme", "size_gbytes": 1}],
        services=[{"name": "s", "tenant": "a", "workload": "t", "arrivals": {"rate_per_s": 1}}],
        faults=[{"at_h": 0, "storage": "slow", "slowdown": 0.5}],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    expected = [
        "jobs.0.tenant: unknown tenant 'nobody'",
        "jobs.0.workload: unknown workload 'nope'",
        "jobs.1.name: job name 'j' is used twice",
        "jobs.1.dataset: unknown dataset 'missing'",
        "datasets.0.tier: unknown storage tier 'nvme'",
        "services.0.workload: workload 't' is a training workload; an inference one is needed",
        "faults.0.storage: unknown storage tier 'slow'",
    ]
    for e in expected:
        assert e in msg, e
    assert msg.startswith("f.yaml: ")
    assert len(re.split(r"; (?=[a-z_]+\.\d+\.)", msg)) == len(expected)  # nothing else


def test_a_lifecycle_checks_its_own_references():
    data = dict(
        BASE,
        datasets=[{"name": "d", "tenant": "b", "tier": "pfs", "size_gbytes": 1}],
        lifecycles=[
            {
                "name": "l",
                "tenant": "a",
                "dataset": "d",
                "train": {"workload": "t", "steps": 1},
                "evaluate": {"workload": "t", "duration_h": 1},
                "deploy": "svc",
            }
        ],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    assert "lifecycles.0.dataset: dataset 'd' belongs to tenant 'b', not 'a'" in msg
    assert "lifecycles.0.evaluate.workload: workload 't' is a training workload; a inference one is needed" in msg
    assert "lifecycles.0.deploy: unknown service 'svc' (services: none defined)" in msg


def test_a_good_description_passes():
    spec = parse_factory(dict(BASE, jobs=[{"name": "j", "tenant": "a", "workload": "t", "steps": 10}]))
    assert spec.jobs[0].workload == "t"


def test_a_variant_is_compared_with_a_variant_that_exists():
    data = dict(BASE, compare=[{"name": "v1", "window_h": 2}, {"name": "v2", "against": "v3", "window_h": 3}])
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    assert "compare.1.against: unknown variant 'v3' (variants: f, v1)" in str(exc.value)
    data["compare"][1]["against"] = "v1"
    assert parse_factory(data).compare[1].against == "v1"


def test_jobs_that_do_not_fit_and_unknown_devices_are_reported_together():
    from tests.factory_fabrics import small
    from tokenfab.factory.engine import Engine, make_comm

    big = {"model": "llama3-8b", "seq_len": 4096, "global_batch": 64, "parallelism": {"tp": 4, "dp": 32}}
    spec = parse_factory(
        {
            "name": "f",
            "fabric": "x.yaml",
            "window_h": 1,
            "network": {"model": "analytical"},
            "jobs": [{"name": "a", "training": big}, {"name": "b", "training": big}],
            "faults": [{"at_h": 0, "down": "spine-99"}, {"at_h": 0, "loss": 1e-4, "where": "leaf-x"}],
        }
    )
    with pytest.raises(InputError) as exc:
        Engine(spec, small(), make_comm(spec))
    msg = str(exc.value)
    for field in ("jobs.0:", "jobs.1:", "faults.0.down:", "faults.1.where:"):
        assert field in msg, field
    assert "128 GPUs" in msg and "spine-99" in msg and "leaf-x" in msg


def test_structure_and_reference_problems_come_in_one_error():
    data = dict(
        BASE,
        window_h=-1,  # structure: out of range
        jobs=[{"name": "j", "tenant": "a", "workload": "t", "steps": 10}, {"name": "k", "tenant": "nobody", "workload": "t"}],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    assert msg.startswith("f.yaml: window_h: Input should be greater than 0 (got -1); ")
    assert msg.endswith("; jobs.1.tenant: unknown tenant 'nobody' (tenants: a, b)")


def test_a_section_that_fails_its_own_checks_is_not_judged_by_its_references():
    data = dict(
        BASE,
        storage={"tiers": [{"name": "pfs", "capacity_gbytes": 10}]},  # a typo: the section fails
        workloads={"t": {"training": {"model": "llama3-8b", "seq_len": 0, "global_batch": 8}}},
        datasets=[{"name": "d", "tenant": "a", "tier": "pfs", "size_gbytes": 1}],
        jobs=[{"name": "j", "tenant": "nobody", "workload": "t", "dataset": "d"}],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    assert "storage.tiers.0.capacity_gbytes: unknown key" in msg
    assert "workloads.t.training.seq_len: Input should be greater than 0" in msg
    assert "jobs.0.tenant: unknown tenant 'nobody'" in msg  # tenants passed: still checked
    # neither "unknown workload 't'" nor "no storage section"/"unknown storage tier": those sections failed
    assert "workload 't'" not in msg and "storage section" not in msg and "unknown storage tier" not in msg


def test_models_of_jobs_workloads_and_services_are_references_checked_with_the_rest():
    data = dict(
        BASE,
        workloads={
            "t": {"training": {"model": "llama-9b", "parallelism": {"tp": 8, "dp": 1}, "global_batch": 8, "seq_len": 4096}}
        },
        jobs=[{"name": "j", "tenant": "a", "inference": {"model": "gpt-0"}}],
        services=[{"name": "s", "tenant": "zz", "inference": {"model": "llama3-8b"}, "arrivals": {"rate_per_s": 1}}],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    assert "workloads.t.training.model: unknown model 'llama-9b'; the library has: " in msg
    assert "jobs.0.inference.model: unknown model 'gpt-0'" in msg
    assert "services.0.tenant: unknown tenant 'zz'" in msg


def test_the_base_and_every_variant_are_checked_in_one_error():
    data = dict(
        BASE,
        jobs=[{"name": "j", "tenant": "nobody", "workload": "t"}],
        compare=[
            {"name": "v1", "window_h": 0},
            {"name": "v2", "tenants": [{"name": "a"}], "colour": "red"},
            {"name": "v3", "jobs": [{"name": "j", "tenant": "b", "workload": "gone"}]},
        ],
    )
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    parts = str(exc.value).removeprefix("f.yaml: ").split("; ")
    assert parts[0].startswith("jobs.0.tenant: unknown tenant 'nobody'")
    assert parts[1].startswith("compare.0 (v1): window_h: Input should be greater than 0")
    assert parts[2].startswith("compare.1.colour: not a section a variant can replace")
    assert parts[3].startswith("compare.2 (v3): jobs.0.workload: unknown workload 'gone'")
    assert len(parts) == 4  # the base's problem is told once, not again for v1 that keeps its jobs


def test_variants_are_the_ones_parse_factory_built():
    from tokenfab.factory.spec import variants

    data = dict(BASE, compare=[{"name": "v1", "window_h": 2}])
    spec = parse_factory(data)
    built = variants(spec, data)
    assert [(n, s.window_h) for n, s in built] == [("f", 1), ("v1", 2)]
    assert built[1][1] is variants(spec, data)[1][1]  # built once


@pytest.mark.parametrize("count", [11_167_992, 11_167_992.0, "11167992"])
def test_job_copies_are_bounded_however_the_count_is_written(count):
    # validation reads 5.0 and "5" as 5: the bound before it must too, or the copies flood memory
    data = dict(BASE, fabric=0, jobs=[{"name": "j", "workload": "t", "count": count}])
    with pytest.raises(InputError, match=r"jobs\.0\.count: .* more than 10,000 jobs"):
        parse_factory(data, "f.yaml")
