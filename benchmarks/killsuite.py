"""kill -9 suite: plan, configure (in place), factory and sweep killed at random moments.

    .venv/bin/python benchmarks/killsuite.py [--kills 50]

Half the kills land at a random moment of a whole run, half shortly after the run
starts writing its temporary output folder (up to 0.3 s: the moments that matter, whatever the load).
Prints per command: kills, how often the target was found absent / complete / the previous
version, and problems (must be 0: a broken target, a temporary folder surviving the next run,
or a pool worker outliving a killed sweep). Exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.killkit import kill_once, kill_times, measure, prepare  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=50, help="kills per command")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["plan", "configure", "factory", "sweep"], help="one command")
    opts = ap.parse_args()
    console = Console(width=150)
    work = Path(tempfile.mkdtemp(prefix="tokenfab-kill-"))
    t0 = time.perf_counter()
    with console.status("running each command once, whole"):
        cmds = prepare(work)
    table = Table(title=f"kill -9 suite ({opts.kills} kills per command)")
    for col in ("command", "whole run s", "kills", "absent", "complete", "previous", "problems"):
        table.add_column(col, justify="left" if col == "command" else "right")
    problems = []
    with Progress(console=console, transient=True) as bar:
        for name, cmd in cmds.items():
            if opts.only and name != opts.only:
                continue
            total_s = measure(work, cmd)
            task = bar.add_task(name, total=opts.kills)
            states: Counter = Counter()
            bad = 0
            for at_s, writing in kill_times(total_s, opts.kills, opts.seed):
                r = kill_once(work, cmd, at_s, writing)
                states[r.state] += 1
                if r.problem:
                    bad += 1
                    when = f"{at_s:.2f} s after it began writing" if writing else f"at {at_s:.2f} s"
                    problems.append(f"{name} killed {when}: {r.problem} (target {r.state})")
                bar.advance(task)
            table.add_row(
                name,
                f"{total_s:.2f}",
                str(opts.kills),
                str(states["absent"]),
                str(states["complete"]),
                str(states["previous"]),
                str(bad),
            )
            bar.console.print(
                f"{name}: {opts.kills} kills, absent {states['absent']}, complete {states['complete']}, "
                f"previous {states['previous']}, problems {bad}",
                highlight=False,
            )
    console.print(table)
    console.print(
        f"{(1 if opts.only else len(cmds)) * opts.kills} kills in {time.perf_counter() - t0:,.0f} s; problems: {len(problems)}"
    )
    for p in problems[:20]:
        console.print(p, highlight=False)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
