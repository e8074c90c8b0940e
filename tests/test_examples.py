"""Every file in examples/ is used by a test: each intent plans cleanly here (and has as many GPUs as
its name says); every other file (factory, sweep, validation) is named by a test, by a README command
(tests/test_readme.py runs them all) or is the fabric/base of such a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT
from tests.test_readme import blocks
from tokenfab import load_intent, plan
from tokenfab.design.invariants import check

FILES = sorted(p for p in EXAMPLES.rglob("*") if p.is_file())


def _data(p: Path) -> dict:
    return yaml.safe_load(p.read_text()) or {}


INTENTS = [p for p in FILES if p.suffix == ".yaml" and "cluster" in _data(p)]


def _gpus_in_name(stem: str) -> int:
    """`three-tier-32k` -> 32768, `rail-optimized-256` -> 256, `rail-optimized-256-su16` -> 256."""
    number, k = re.search(r"-(\d+)(k?)(?:-[a-z]+\d*)?$", stem).groups()
    return int(number) * (1024 if k else 1)


@pytest.mark.parametrize("intent", INTENTS, ids=[str(p.relative_to(EXAMPLES)) for p in INTENTS])
def test_example_intent_plans_cleanly(intent):
    fabric = plan(load_intent(intent))
    assert check(fabric) == []
    assert fabric.design["gpus"] == _gpus_in_name(intent.stem)
    assert fabric.intent.name == intent.stem


def test_every_example_file_is_used():
    texts = [p.read_text() for p in (ROOT / "tests").glob("*.py") if p.name != "test_examples.py"]
    texts += ["\n".join(lines) for _, lines in blocks()]
    corpus = "\n".join(texts)
    used = {p for p in FILES if str(p.relative_to(EXAMPLES)) in corpus or f'"{p.name}"' in corpus}
    used |= set(INTENTS)  # planned above
    # a used factory or sweep file uses its fabric or base intent
    for p in list(used):
        if p.suffix == ".yaml":
            ref = _data(p).get("fabric") or _data(p).get("base")
            if isinstance(ref, str):
                used.add((p.parent / ref).resolve())
    unused = [str(p.relative_to(EXAMPLES)) for p in FILES if p.resolve() not in {u.resolve() for u in used}]
    assert not unused, f"examples no test uses: {unused}"
