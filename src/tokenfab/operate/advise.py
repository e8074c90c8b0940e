"""Actions for each finding, priced by the factory simulation against doing nothing.

For a finding at time t (the factory's clock) the horizon is the next day. Each action is a
variant of the factory description (faults added: the link drained for its repair, or failing
when predicted) run through the factory's public entry (`run_factory`) and summarised; what the
run cannot know - that an unplanned link failure aborts the jobs whose RDMA connections cross it
(Llama 3 counts network links among its interruptions) - is added from the run's own figures:
each hit training job loses the work since its last checkpoint (half its checkpoint interval on
average), the restart (`failures.restart_min`, default 10 min) and the restore (its checkpoint
read back at its write time), on all its GPUs, at its own token rate. Dollars are the GPU-hours
lost at the run's $/GPU-hour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tokenfab.operate.detect import Finding

REPLACE_H = 1.0  # drain, swap the optic or cable, undrain (a planned maintenance slot)
RESTART_MIN = 10.0  # detect, reschedule, initialise: the factory's Failures default


@dataclass
class Priced:
    action: str
    text: str
    tokens: float  # the horizon's tokens with this action
    lost_tokens: float  # against the same day without the problem
    lost_gpu_h: float
    lost_usd: float
    interruptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Advice:
    finding: Finding
    actions: list[Priced]
    best: str

    def as_dict(self) -> dict:
        return {"finding": self.finding.as_dict(), "actions": [a.as_dict() for a in self.actions], "best": self.best}


class Pricer:
    """Runs factory variants of one description on one fabric, cached by their faults."""

    def __init__(self, spec, fabric, job_links: dict[str, dict[str, float]], until_h: float | None = None):
        from tokenfab.factory.engine import run_factory
        from tokenfab.factory.kpis import summarize

        self._run, self._summarize = run_factory, summarize
        if until_h is not None and until_h > spec.window_h:  # the day after the last finding fits in the window
            spec = spec.model_copy(update={"window_h": float(until_h)})
        self.spec, self.fabric, self.job_links = spec, fabric, job_links
        self._cache: dict = {}
        self.base = self.run(())

    def run(self, faults: tuple, routing: str | None = None):
        key = (tuple(tuple(sorted(f.items())) for f in faults), routing)
        if key not in self._cache:
            from tokenfab.factory.spec import Fault

            upd = {"faults": list(self.spec.faults) + [Fault(**f) for f in faults]}
            if routing is not None:
                upd["network"] = self.spec.network.model_copy(update={"routing": routing})
            sp = self.spec.model_copy(update=upd)
            run = self._run(sp, self.fabric)
            self._cache[key] = (run, self._summarize(run))
        return self._cache[key]

    @property
    def usd_per_gpu_hour(self) -> float:
        return float(self.base[1]["totals"]["usd_per_gpu_hour"] or 0.0)

    @property
    def restart_s(self) -> float:
        f = self.spec.failures
        return (f.restart_min if f is not None else RESTART_MIN) * 60.0

    def jobs_on(self, link: str, at_s: float) -> list:
        """Factory jobs running at `at_s` whose flows cross `link`."""
        run = self.base[0]
        hit = []
        for j in run.jobs:
            names = [j.name] + [f"{j.name}#{i + 1}" for i in range(len(j.history))]
            if not any(link in self.job_links.get(n, {}) for n in names):
                continue
            for t0, t1, _ in j.history:
                if t0 <= at_s < (t1 if t1 is not None else float("inf")):
                    hit.append(j)
                    break
        return hit

    def interruption(self, j, lost_since_ckpt_s: float | None = None) -> tuple[float, float, str]:
        """(GPU-seconds, tokens) an unplanned abort of job j costs, and how it was counted."""
        run_s = sum(((t1 if t1 is not None else self.spec.window_s) - t0) for t0, t1, _ in j.history) or 1.0
        rate = j.acc.tokens / run_s if j.kind == "training" else 0.0
        interval = j.ckpt.interval_s if j.ckpt.interval_s else None
        if lost_since_ckpt_s is None:
            lost_since_ckpt_s = interval / 2 if interval else run_s / 2  # no checkpoints: on average half the run so far
        restore_s = j.ckpt.write_s or 0.0
        wasted_s = lost_since_ckpt_s + self.restart_s + restore_s
        how = (
            f"{j.name}: {lost_since_ckpt_s / 60:.0f} min of work since its last checkpoint + "
            f"{self.restart_s / 60:.0f} min restart + {restore_s:.0f} s restore, on {j.gpus} GPUs"
        )
        return wasted_s * j.gpus, rate * wasted_s, how

    def price(
        self,
        action: str,
        text: str,
        faults: tuple = (),
        interrupt: list | None = None,
        extra_gpu_s: float = 0.0,
        extra_tokens: float = 0.0,
        routing: str | None = None,
        notes: list[str] | None = None,
    ) -> Priced:
        run, summ = self.run(faults, routing)
        base_tokens = float(self.base[1]["totals"]["tokens"])
        tokens = float(summ["totals"]["tokens"]) - extra_tokens
        # GPU time the variant's own run shows lost (network idle grows when a link is gone)
        lost_gpu_h = float(summ["totals"]["network_idle_gpu_h"]) - float(self.base[1]["totals"]["network_idle_gpu_h"])
        lost_gpu_h += extra_gpu_s / 3600.0
        notes = list(notes or [])
        hit = []
        for j, since in interrupt or []:
            gs, tk, how = self.interruption(j, since)
            lost_gpu_h += gs / 3600.0
            tokens -= tk
            hit.append(j.name)
            notes.append(how)
        return Priced(
            action,
            text,
            round(tokens, 0),
            round(base_tokens - tokens, 0),
            round(lost_gpu_h, 2),
            round(lost_gpu_h * self.usd_per_gpu_hour, 2),
            hit,
            notes,
        )


def advise(findings: list[Finding], pricer: Pricer, *, horizon_h: float = 24.0) -> list[Advice]:
    """Priced actions for each finding; `best` is the one losing the fewest tokens."""
    out = []
    for f in findings:
        actions = _actions(f, pricer, horizon_h)
        best = min(actions, key=lambda a: (a.lost_tokens, a.lost_gpu_h)).action if actions else ""
        out.append(Advice(f, actions, best))
    return out


def _actions(f: Finding, pr: Pricer, horizon_h: float) -> list[Priced]:
    now_h = f.t_s / 3600.0
    window_h = pr.spec.window_h
    repair_h = pr.spec.failures.link_repair_h if pr.spec.failures is not None else 2.0
    acts: list[Priced] = []
    if f.kind == "failing-link":
        fail_s = f.predicted_fail_s if f.predicted_fail_s is not None else f.t_s + 3600.0
        fail_h = fail_s / 3600.0
        hit = pr.jobs_on(f.link, fail_s)
        if fail_h < window_h:
            nothing = (
                {"at_h": round(fail_h, 4), "up_h": round(min(fail_h + repair_h, window_h + 1e-3) + 1e-3, 4), "down": f.link},
            )
        else:
            nothing = ()
        acts.append(
            pr.price(
                "do nothing",
                f"the link fails ~{fail_h:.1f} h (predicted); jobs crossing it abort and "
                f"restart from their checkpoints; the link is down {repair_h:g} h for repair",
                nothing,
                [(j, None) for j in hit],
            )
        )
        drain = ({"at_h": round(now_h, 4), "up_h": round(min(now_h + REPLACE_H, window_h) + 1e-3, 4), "down": f.link},)
        acts.append(
            pr.price(
                "drain and replace",
                f"drain {f.link} now (BGP moves its traffic first), replace the optic, undrain after {REPLACE_H:g} h",
                drain,
            )
        )
        # checkpointing now helps only when the failure comes before the next periodic checkpoint
        ckpt_gpu_s = sum(j.ckpt.write_s * j.gpus for j in hit)
        acts.append(
            pr.price(
                "checkpoint now",
                "checkpoint the jobs crossing it now, let the link fail and repair it",
                nothing,
                [(j, _since_ckpt(j, fail_s - f.t_s)) for j in hit],
                extra_gpu_s=ckpt_gpu_s,
                extra_tokens=sum(_rate(pr, j) * j.ckpt.write_s for j in hit),
            )
        )
        if hit:
            moved_gpu_s = sum((j.ckpt.write_s * 2 + pr.restart_s) * j.gpus for j in hit)
            acts.append(
                pr.price(
                    "move the jobs",
                    f"checkpoint {', '.join(j.name for j in hit)} and restart it away from "
                    f"the link (link replaced later, unused)",
                    drain,
                    extra_gpu_s=moved_gpu_s,
                    extra_tokens=sum(_rate(pr, j) * (j.ckpt.write_s * 2 + pr.restart_s) for j in hit),
                )
            )
    elif f.kind == "bgp-flap":
        carrier = bool(f.evidence.get("carrier"))
        hit = pr.jobs_on(f.link, f.t_s) if carrier else []
        acts.append(
            pr.price(
                "do nothing",
                "the link keeps flapping"
                + (
                    "; each bounce aborts the jobs crossing it (once counted)"
                    if carrier
                    else "; sessions reset, traffic re-hashes each time"
                ),
                (),
                [(j, None) for j in hit],
            )
        )
        drain = ({"at_h": round(now_h, 4), "up_h": round(min(now_h + repair_h, window_h) + 1e-3, 4), "down": f.link},)
        acts.append(pr.price("drain and repair", f"drain {f.link} now and repair it ({repair_h:g} h)", drain))
    elif f.kind == "pfc-storm":
        end_s = f.end_s if f.end_s is not None else f.t_s + 3600.0
        stall_s = max(end_s - f.t_s, 0.0)
        jobs = [j for j in pr.base[0].jobs if j.name in set(f.jobs) or any(n.startswith(j.name + "#") for n in f.jobs)]
        gpu_s = sum(j.gpus * stall_s for j in jobs)
        acts.append(
            pr.price(
                "do nothing",
                f"the storm lasts ~{stall_s / 60:.0f} min more; the jobs it reached stall",
                (),
                extra_gpu_s=gpu_s,
                extra_tokens=sum(_rate(pr, j) * stall_s for j in jobs),
            )
        )
        stuck = _jobs_on_server(pr, f.link.split(":")[0], f.t_s)
        acts.append(
            pr.price(
                "isolate the NIC",
                f"shut {f.port} (the PFC watchdog's drop action); the jobs on "
                f"{f.link.split(':')[0]} restart elsewhere from a checkpoint taken now, the others resume",
                (),
                [(j, 0.0) for j in stuck],
                extra_gpu_s=sum(j.ckpt.write_s * j.gpus for j in stuck),
            )
        )
    elif f.kind == "hot-spot":
        dur_h = max(((f.end_s or f.t_s) - f.t_s) / 3600.0, 0.5)
        hot = ({"at_h": round(now_h, 4), "up_h": round(min(now_h + dur_h, window_h) + 1e-3, 4), "degrade": 0.5, "where": f.link},)
        acts.append(
            pr.price("do nothing", f"the colliding flows keep sharing {f.link} (half its capacity each) for ~{dur_h:.1f} h", hot)
        )
        for mode in ("adaptive", "spray"):
            if mode != pr.spec.network.routing:
                acts.append(
                    pr.price(
                        f"routing {mode}",
                        f"switch the fabric to {mode} routing (flows spread over all uplinks)",
                        (),
                        routing=mode,
                    )
                )
    return acts


def _rate(pr: Pricer, j) -> float:
    run_s = sum(((t1 if t1 is not None else pr.spec.window_s) - t0) for t0, t1, _ in j.history) or 1.0
    return j.acc.tokens / run_s if j.kind == "training" else 0.0


def _since_ckpt(j, after_s: float) -> float | None:
    """Work lost at a failure `after_s` after a checkpoint taken now. Before the next periodic
    checkpoint that is all of `after_s`; later, the prediction's uncertainty (hours) is far wider than
    an interval, so the loss is the usual half interval (None) and checkpointing now buys nothing."""
    after_s = max(after_s, 0.0)
    if not j.ckpt.interval_s or after_s < j.ckpt.interval_s:
        return after_s
    return None


def _jobs_on_server(pr: Pricer, server: str, at_s: float) -> list:
    """Factory jobs with GPUs on `server` at `at_s`."""
    roles = pr.fabric.devices["role"]
    names = [str(n) for n, r in zip(pr.fabric.devices["name"], roles) if r == "server"]
    if server not in names:
        return []
    k = names.index(server)
    gps = pr.fabric.intent.cluster.gpus_per_server
    out = []
    for j in pr.base[0].jobs:
        for t0, t1, gpus in j.history:
            if t0 <= at_s < (t1 if t1 is not None else float("inf")) and (k in set((gpus // gps).tolist())):
                out.append(j)
                break
    return out
