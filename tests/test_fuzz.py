"""Fuzz: intents, factory and sweep files, simulate options and fabric.json, field by field and as
spoiled files. Every case exits 0 with its complete output or 2 with a one-line error; never a
traceback, a hang or a folder left half-written (tests/fuzzkit.py). A bounded number of cases
here; benchmarks/fuzz.py runs thousands."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzkit import (
    FACTORY,
    FACTORY_EXTRA,
    HOSTILE,
    INTENT,
    INTENT_EXTRA,
    OPTION_VALUES,
    SIM_OPTIONS,
    SIMULATE,
    SWEEP,
    _dump,
    _paths,
    _set,
    file_mutations,
    mutated,
    run_case,
    write,
)

pytestmark = pytest.mark.xdist_group("fuzz")  # one worker: cases share a folder and the alarm signal
PLAN_FILES = ("fabric.json", "bom.csv", "cabling.csv", "ip-plan.csv", "topology.svg")
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="tokenfab-fuzz-"))
    write(d / "intent.yaml", INTENT)
    r = run_case(["plan", d / "intent.yaml", "-o", d / "plan"], d / "plan", PLAN_FILES)
    assert r.exit_code == 0 and not r.problem, r
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _fresh(work: Path, name: str) -> Path:
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    return out


def _held(outcome):
    assert not outcome.problem, f"{outcome.problem}: tokenfab {' '.join(outcome.args)}\n{outcome.message}"


@FUZZ
@given(data=mutated(INTENT, INTENT_EXTRA))
def test_intent_fields(work, data):
    path = write(work / "case.yaml", data)
    _held(run_case(["plan", path, "-o", _fresh(work, "out")], work / "out", PLAN_FILES))


@settings(FUZZ, max_examples=20)
@given(blob=file_mutations(_dump(INTENT).decode()))
def test_intent_files(work, blob):
    path = write(work / "case.yaml", blob)
    _held(run_case(["plan", path, "-o", _fresh(work, "out")], work / "out", PLAN_FILES))


@settings(FUZZ, max_examples=15)
@given(data=mutated(FACTORY, FACTORY_EXTRA))
def test_factory_fields(work, data):
    path = write(work / "factory.yaml", data)
    _held(run_case(["factory", "run", path, "-o", _fresh(work, "fout")], work / "fout", ("summary.json",)))


@settings(FUZZ, max_examples=10)
@given(blob=file_mutations(_dump(FACTORY).decode()))
def test_factory_files(work, blob):
    path = write(work / "factory.yaml", blob)
    _held(run_case(["factory", "run", path, "-o", _fresh(work, "fout")], work / "fout", ("summary.json",)))


@settings(FUZZ, max_examples=15)
@given(data=mutated(SWEEP, (("axes", 0, "values", 0), ("objectives", 0, "metric"))))
def test_sweep_fields(work, data):
    path = write(work / "sweep.yaml", data)
    _held(run_case(["sweep", path, "-o", _fresh(work, "sout"), "-j", "1"], work / "sout", ("results.csv",)))


@settings(FUZZ, max_examples=40)
@given(opts=st.lists(st.tuples(st.sampled_from(SIM_OPTIONS), OPTION_VALUES), min_size=1, max_size=3))
def test_simulate_options(work, opts):
    args = ["simulate", work / "plan", *SIMULATE]
    for name, value in opts:
        args += [name, value]
    _held(run_case(args, None))


@settings(FUZZ, max_examples=20)
@given(st.data())
def test_edited_fabric_json(work, data):
    obj = json.loads((work / "plan" / "fabric.json").read_text())
    edited = copy.deepcopy(obj)
    paths = [p for p in _paths(obj) if not (len(p) > 3 and p[1] == "rows" and p[2] > 3)]  # the first rows suffice
    path = data.draw(st.sampled_from(paths))
    _set(edited, path, data.draw(HOSTILE), delete=data.draw(st.booleans()))
    folder = _fresh(work, "edited")
    folder.mkdir()
    (folder / "fabric.json").write_text(json.dumps(edited))  # NaN/Infinity written as JSON allows them
    _held(run_case(["simulate", folder, *SIMULATE], None))
