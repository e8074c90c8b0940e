"""Bad input as files: every tests/errors/*.yaml must be refused with exit code 2, its expected
message and no traceback, and nothing written.

A case file starts with one or more `# expect: TEXT` lines (each TEXT must appear in the error);
its name says which verb reads it: `intent-*` (tokenfab plan), `factory-*` (tokenfab factory run)
or `sweep-*` (tokenfab sweep). Relative paths inside a case are relative to the case file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CASES = sorted((ROOT / "tests" / "errors").glob("*.yaml"))
VERBS = {"intent": ["plan"], "factory": ["factory", "run"], "sweep": ["sweep"]}


def expected(case: Path) -> list[str]:
    lines = case.read_text().splitlines()
    return [line.removeprefix("# expect:").strip() for line in lines if line.startswith("# expect:")]


def test_the_cases_cover_every_verb():
    assert len(CASES) >= 25
    kinds = {case.name.split("-", 1)[0] for case in CASES}
    assert kinds == set(VERBS), f"case names must start with one of {sorted(VERBS)}: {sorted(kinds)}"
    assert all(expected(case) for case in CASES), [c.name for c in CASES if not expected(c)]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_file_is_explained(case, tmp_path):
    verb = VERBS[case.name.split("-", 1)[0]]
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", *verb, str(case), "-o", str(out)], capture_output=True, text=True, cwd=tmp_path
    )
    message = " ".join(r.stderr.split())  # rich wraps long messages at the terminal width
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    for text in expected(case):
        assert text in message, f"{text!r} not in: {message}"
    assert "Traceback" not in r.stderr + r.stdout
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [], "something was left behind"
