"""The factory simulation as a telemetry source: a factory run's jobs become link loads (loads.py),
the scenario generator turns them into counters, with degradations injected (scenario.py)."""

from __future__ import annotations

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.operate.loads import from_factory, job_patterns
from tokenfab.operate.scenario import Event, Scenario, draw_events, generate


def demo_events(fabric: Fabric, jobs, patterns: np.ndarray, window_h: float) -> list[Event]:
    """One optic aging on the spine uplink the largest multi-unit training job loads most: fading
    from hour 1, failing at 70% of the window."""
    best = None
    for k, j in enumerate(jobs):
        if j.kind != "training":
            continue
        per_link = patterns[k].reshape(-1, 2).max(axis=1)
        rows = np.flatnonzero((np.asarray(fabric.links["kind"]) != "nic") & (per_link > 0))
        if len(rows) and (best is None or len(j.gpus) > best[0]):
            best = (len(j.gpus), int(rows[np.argmax(per_link[rows])]))
    if best is None:
        return []
    ln = fabric.link(best[1])
    return [Event("aging", ln.id, at_s=0.7 * window_h * 3600.0, onset_s=3600.0)]


def simulate_factory(
    spec, fabric: Fabric, *, events: list[Event] | str | None = None, step_s: float = 60.0, seed: int | None = None
) -> tuple[Scenario, object]:
    """Run the factory (its public entry) and derive its fabric's telemetry; `events` None injects the
    demo's optic aging, "random" one of each degradation (hot spots on links the jobs load).
    Returns the scenario and the factory run."""
    from tokenfab.factory.engine import run_factory

    run = run_factory(spec, fabric)
    jobs = from_factory(run)
    pat = job_patterns(
        fabric, jobs, spec.network.routing if spec.network.routing in ("ecmp", "adaptive", "spray") else "ecmp", spec.seed
    )
    if events is None:
        events = demo_events(fabric, jobs, pat, spec.window_h)
    elif events == "random":
        rng = np.random.default_rng(spec.seed if seed is None else seed)
        events = draw_events(fabric, rng, spec.window_h, patterns=pat)
    sc = generate(
        fabric, jobs, events, hours=spec.window_h, step_s=step_s, seed=spec.seed if seed is None else seed, patterns=pat
    )
    return sc, run
