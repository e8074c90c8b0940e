"""Shared harness of the factory benchmarks: plan the fabric, run the factory, time and measure."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

from tokenfab import parse_intent, plan
from tokenfab.factory.engine import FactoryRun, run_factory
from tokenfab.factory.kpis import summarize
from tokenfab.factory.spec import FactorySpec, parse_factory


@dataclass
class Timed:
    spec: FactorySpec
    run: FactoryRun
    summary: dict
    plan_s: float
    run_s: float
    total_s: float
    peak_mib: float  # process max RSS

    def header(self) -> str:
        return (
            f"  wall time {self.total_s:.1f} s (plan {self.plan_s:.1f} s, simulate {self.run_s:.1f} s, "
            f"{len(self.run.epochs):,} epochs), peak memory {self.peak_mib:,.0f} MiB"
        )

    def verdict(self, target_s: float = 120.0) -> str:
        return f"  target < {target_s:g} s: {'met' if self.total_s < target_s else 'MISSED'}"


def timed_factory(intent: dict, factory: dict) -> Timed:
    t0 = time.perf_counter()
    fabric = plan(parse_intent(intent))
    t_plan = time.perf_counter() - t0
    spec = parse_factory(factory)
    t1 = time.perf_counter()
    run = run_factory(spec, fabric)
    t_run = time.perf_counter() - t1
    summary = summarize(run)
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Timed(spec, run, summary, t_plan, t_run, total, peak)
