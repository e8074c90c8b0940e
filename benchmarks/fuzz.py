"""Fuzz campaign: thousands of cases over every input (tests/fuzzkit.py), in-process.

    .venv/bin/python benchmarks/fuzz.py [--scale 1.0]

Prints, per input: cases tried, how many exited 0 / 2, failures (must be 0) and the slowest case;
exits 1 when any case broke the invariant (each failure is printed with its command line).
--scale multiplies the number of cases (0.1 for a quick look); --only runs one input.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.fuzzkit import (  # noqa: E402
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
    demo_factory,
    file_mutations,
    mutated,
    run_case,
    write,
)

PLAN_FILES = ("fabric.json", "bom.csv", "cabling.csv", "ip-plan.csv", "topology.svg")
CASES = {
    "intent fields": 1500,
    "intent files": 600,
    "factory fields": 400,
    "factory files": 150,
    "factory demo fields": 100,
    "sweep fields": 250,
    "simulate options": 800,
    "fabric.json edits": 400,
}


def campaign(name: str, n: int, strategy, case, bar, task) -> list:
    outcomes = []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def body(value):
        outcomes.append(case(value))
        bar.advance(task)

    body()
    return outcomes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", help="one input (e.g. 'simulate options')")
    opts = ap.parse_args()
    scale = opts.scale
    work = Path(tempfile.mkdtemp(prefix="tokenfab-fuzz-"))
    write(work / "intent.yaml", INTENT)
    assert run_case(["plan", work / "intent.yaml", "-o", work / "plan"], work / "plan").exit_code == 0
    fabric_obj = json.loads((work / "plan" / "fabric.json").read_text())

    def fresh(name):
        shutil.rmtree(work / name, ignore_errors=True)
        return work / name

    def plan_case(blob):
        return run_case(["plan", write(work / "case.yaml", blob), "-o", fresh("out")], work / "out", PLAN_FILES)

    def factory_case(blob):
        return run_case(["factory", "run", write(work / "f.yaml", blob), "-o", fresh("fout")], work / "fout", ("summary.json",))

    def sweep_case(blob):
        return run_case(["sweep", write(work / "s.yaml", blob), "-o", fresh("sout"), "-j", "1"], work / "sout", ("results.csv",))

    def sim_case(opts):
        args = ["simulate", work / "plan", *SIMULATE]
        for k, v in opts:
            args += [k, v]
        return run_case(args, None)

    fabric_paths = [p for p in _paths(fabric_obj) if not (len(p) > 3 and p[1] == "rows" and p[2] > 3)]

    def fabric_case(edit):
        path, value, delete = edit
        obj = copy.deepcopy(fabric_obj)
        _set(obj, path, value, delete)
        folder = fresh("edited")
        folder.mkdir()
        (folder / "fabric.json").write_text(json.dumps(obj))
        return run_case(["simulate", folder, *SIMULATE], None)

    targets = {
        "intent fields": (mutated(INTENT, INTENT_EXTRA), plan_case),
        "intent files": (file_mutations(_dump(INTENT).decode()), plan_case),
        "factory fields": (mutated(FACTORY, FACTORY_EXTRA), factory_case),
        "factory files": (file_mutations(_dump(FACTORY).decode()), factory_case),
        "factory demo fields": (mutated(demo_factory()), factory_case),
        "sweep fields": (mutated(SWEEP, (("axes", 0, "values", 0), ("objectives", 0, "metric"))), sweep_case),
        "simulate options": (st.lists(st.tuples(st.sampled_from(SIM_OPTIONS), OPTION_VALUES), min_size=1, max_size=3), sim_case),
        "fabric.json edits": (st.tuples(st.sampled_from(fabric_paths), HOSTILE, st.booleans()), fabric_case),
    }
    console = Console(width=150)
    table = Table(title="fuzz campaign")
    for col in ("input", "cases", "exit 0", "exit 2", "failures", "slowest s", "slowest case"):
        table.add_column(col, justify="left" if col in ("input", "slowest case") else "right")
    failures = []
    t0 = time.perf_counter()
    total = 0
    with Progress(console=console, transient=True) as bar:
        for name, (strategy, case) in targets.items():
            if opts.only and name != opts.only:
                continue
            n = max(1, int(CASES[name] * scale))
            task = bar.add_task(name, total=n)
            outs = campaign(name, n, strategy, case, bar, task)
            total += len(outs)
            bad = [o for o in outs if o.problem]
            failures += [(name, o) for o in bad]
            slow = max(outs, key=lambda o: o.seconds)
            table.add_row(
                name,
                f"{len(outs):,}",
                f"{sum(o.exit_code == 0 for o in outs):,}",
                f"{sum(o.exit_code == 2 for o in outs):,}",
                str(len(bad)),
                f"{slow.seconds:.2f}",
                " ".join(slow.args[:1] + slow.args[3:])[:60],
            )
    console.print(table)
    console.print(f"{total:,} cases in {time.perf_counter() - t0:,.0f} s; failures: {len(failures)}")
    for name, o in failures[:20]:
        console.print(f"[red]{name}[/]: {o.problem}: tokenfab {' '.join(o.args)}\n{o.message[:1500]}", highlight=False)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
