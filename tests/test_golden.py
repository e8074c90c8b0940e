"""Golden outputs: small intents and a short factory run compared byte for byte with tests/golden/.

YANG and the cross-device checks accept any valid config; these files catch a valid but
unintended change (a DSCP value, a timer, a port name, a ledger figure). After an intended
change, regenerate them with one command and review the diff before committing:

    make golden        # = pytest tests/test_golden.py --update-golden
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"

# case -> (intent in examples/, the files compared, relative to the configured plan folder)
PLANS = {
    "rail-only-128": ["fabric.json", "bom.csv", "configs/leaf-r1-1/config_db.json", "configs/leaf-r1-1/frr.conf"],
    "rail-optimized-256": [
        "fabric.json",
        "bom.csv",
        "configs/leaf-r1-1/config_db.json",
        "configs/leaf-r1-1/frr.conf",
        "configs/spine-1/config_db.json",
        "configs/spine-1/frr.conf",
    ],
}
# the demo factory (all seven layers, its degraded-network variant) over its first hours only
FACTORY = "factory-demo"
FACTORY_WINDOW_H = 4
FACTORY_FILES = ["ledger.json"]


def _tokenfab(*args: object, cwd: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert r.returncode == 0, f"tokenfab {' '.join(map(str, args))} failed:\n{r.stderr}"


def _lines(data: bytes, name: str) -> list[str]:
    """Lines to show in a diff (the comparison itself is byte for byte): one-line JSON is spread out."""
    text = data.decode()
    if name.endswith(".json"):
        try:
            text = json.dumps(json.loads(text), indent=1, sort_keys=True)
        except ValueError:
            pass
    return text.splitlines()


def _compare(case: str, produced: Path, files: list[str], update: bool) -> None:
    expected_dir = GOLDEN / case
    if update:
        for name in files:
            target = expected_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((produced / name).read_bytes())
        return
    problems = []
    for name in files:
        target = expected_dir / name
        if not target.exists():
            problems.append(f"{case}/{name}: no golden file (run `make golden`)")
            continue
        got, want = (produced / name).read_bytes(), target.read_bytes()
        if got != want:
            diff = difflib.unified_diff(
                _lines(want, name),
                _lines(got, name),
                f"golden/{case}/{name}",
                f"produced/{name}",
                lineterm="",
                n=1,
            )
            lines = [line[:200] for line in diff]
            more = f"\n... {len(lines) - 40} more diff lines" if len(lines) > 40 else ""
            problems.append("\n".join(lines[:40]) + more)
    assert not problems, (
        "outputs differ from tests/golden/ (if the change is intended: `make golden`, review, commit)\n\n" + "\n\n".join(problems)
    )


@pytest.mark.parametrize("case", sorted(PLANS))
def test_plan_and_configs_match_golden(case, tmp_path, update_golden):
    out = tmp_path / "out"
    _tokenfab("plan", EXAMPLES / f"{case}.yaml", "-o", out, cwd=tmp_path)
    _tokenfab("configure", out, cwd=tmp_path)
    _compare(case, out, PLANS[case], update_golden)


def test_factory_ledger_matches_golden(tmp_path, update_golden):
    spec = yaml.safe_load((EXAMPLES / f"{FACTORY}.yaml").read_text())
    spec["window_h"] = FACTORY_WINDOW_H
    spec["fabric"] = str(EXAMPLES / spec["fabric"])
    short = tmp_path / f"{FACTORY}-{FACTORY_WINDOW_H}h.yaml"
    short.write_text(yaml.safe_dump(spec, sort_keys=False))
    _tokenfab("factory", "run", short, "-o", tmp_path / "out", cwd=tmp_path)
    _compare(f"{FACTORY}-{FACTORY_WINDOW_H}h", tmp_path / "out", FACTORY_FILES, update_golden)


def test_every_golden_file_is_compared():
    """A golden file nobody compares any more would rot silently."""
    compared = {f"{case}/{name}" for case, files in PLANS.items() for name in files}
    compared |= {f"{FACTORY}-{FACTORY_WINDOW_H}h/{name}" for name in FACTORY_FILES}
    on_disk = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file() and p.name != "README.md"}
    assert on_disk == compared
