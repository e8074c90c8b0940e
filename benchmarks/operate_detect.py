"""Detectors against ground truth: precision, recall, lead time and false alarms over seeded scenarios.

Each scenario is a day of 1-minute telemetry of the 256-GPU four-unit fabric
(examples/rail-optimized-256-su16.yaml) with four training jobs on random servers and one of each
degradation (optic aging, link flap, BGP flap, PFC storm, hot spot) at random links and times,
with the hard cases in range (scenario.draw_events(realistic=True): optics failing 2 h after they
start to fade, two-bounce flaps, three-minute storms, half-hour hot spots) and 5% of the ports
healthy but restless (BER drifting and swinging with temperature: false-alarm traps).
A finding matches an event of its kind on the same link (a storm: the
same origin port), detected before the failure (failing links) or during the event (the rest).

    python benchmarks/operate_detect.py [--scenarios 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tokenfab import load_intent, plan  # noqa: E402
from tokenfab.operate import detect  # noqa: E402
from tokenfab.operate.loads import job_patterns  # noqa: E402
from tokenfab.operate.scenario import draw_events, generate, random_jobs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("failing-link", "pfc-storm", "hot-spot", "bgp-flap", "failing-link, BER trend only")
TREND_ONLY = DETECTORS[-1]  # the ablation: no optical confirmation (shows what the restless ports cost)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=100)
    ap.add_argument("--hours", type=float, default=24.0)
    args = ap.parse_args()
    fabric = plan(load_intent(ROOT / "examples" / "rail-optimized-256-su16.yaml"))
    n_links = len(fabric.links)
    tp = {d: 0 for d in DETECTORS}
    fp = {d: 0 for d in DETECTORS}
    fn = {d: 0 for d in DETECTORS}
    lead_min: dict[str, list[float]] = {d: [] for d in DETECTORS}
    jobs_exact = {d: [0, 0] for d in ("pfc-storm", "hot-spot")}
    t0 = time.perf_counter()
    with Progress(transient=True) as prog:
        task = prog.add_task("scenarios", total=args.scenarios)
        for seed in range(args.scenarios):
            rng = np.random.default_rng(1000 + seed)
            jobs = random_jobs(fabric, rng, args.hours)
            pat = job_patterns(fabric, jobs, seed=seed)
            events = draw_events(fabric, rng, args.hours, patterns=pat, realistic=True)
            sc = generate(fabric, jobs, events, hours=args.hours, seed=1000 + seed, patterns=pat, wander_share=0.05)
            found = detect.detect_all(sc.telemetry, sc.job_links)
            for f in detect.failing_links(sc.telemetry, min_rx_drop_db=-np.inf):
                f.kind = TREND_ONLY
                found.append(f)
            used = set()
            for ev, kind in [(e, detect.KIND_OF_EVENT[e.kind]) for e in sc.truth] + [
                (e, TREND_ONLY) for e in sc.truth if e.kind == "aging"
            ]:
                end = ev.at_s if ev.kind == "aging" else (ev.end_s or ev.at_s) + 1800
                start = (ev.onset_s or 0.0) if ev.kind == "aging" else ev.at_s - 120
                match = [
                    i
                    for i, f in enumerate(found)
                    if i not in used
                    and f.kind == kind
                    and start <= f.t_s < end
                    and (f.port == ev.origin if kind == "pfc-storm" else f.link == ev.link)
                ]
                if not match:
                    fn[kind] += 1
                    continue
                i = match[0]
                used.add(i)
                tp[kind] += 1
                f = found[i]
                lead_min[kind].append((ev.at_s - f.t_s) / 60 if ev.kind == "aging" else (f.t_s - ev.at_s) / 60)
                if kind in jobs_exact:
                    jobs_exact[kind][0] += set(f.jobs) == set(ev.jobs)
                    jobs_exact[kind][1] += 1
            for i, f in enumerate(found):
                if i not in used:
                    fp[f.kind] += 1
            prog.advance(task)
    wall = time.perf_counter() - t0
    days = args.scenarios * args.hours / 24
    con = Console()
    t = Table(
        title=f"{args.scenarios} seeded scenarios, {args.hours:g} h each at 1-minute samples, {n_links} links ({wall:.0f} s)"
    )
    for c in (
        "detector",
        "precision",
        "recall",
        "lead / delay (min): median \\[p10-p90], min",
        "false alarms per 1,000 links per day",
        "jobs exactly right",
    ):
        t.add_column(c, justify="right")
    for d in DETECTORS:
        prec = tp[d] / (tp[d] + fp[d]) if tp[d] + fp[d] else float("nan")
        rec = tp[d] / (tp[d] + fn[d]) if tp[d] + fn[d] else float("nan")
        lm = np.array(lead_min[d])
        lead = (
            (
                f"{'lead ' if d.startswith('failing-link') else 'delay '}{np.median(lm):.0f} [{np.percentile(lm, 10):.0f}-"
                f"{np.percentile(lm, 90):.0f}], min {lm.min():.0f}"
            )
            if len(lm)
            else "-"
        )
        fa = fp[d] / (n_links / 1000) / days
        je = f"{jobs_exact[d][0]}/{jobs_exact[d][1]}" if d in jobs_exact else "-"
        t.add_row(d, f"{prec:.3f}", f"{rec:.3f}", lead, f"{fa:.2f}", je)
    con.print(t)


if __name__ == "__main__":
    main()
