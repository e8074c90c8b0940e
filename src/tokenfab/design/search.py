"""`auto`: search the design space for the cheapest fabric that meets the intent.

What is searched (each only where the intent leaves it open):
- `fabric.architecture` (rail-optimized; rail-only too when `cross_rail: nvlink`), `fabric.tiers` (1, 2, 3);
- `cluster.planes: auto`: every split of the NIC's speed the NIC and the leaf can run (1..8 planes);
- the switch model per tier, from `fabric.switch_model` (one model or a list);
- breakout modes: of leaf downlinks (every mode at the link speed), of leaf uplinks (every leaf mode
  the spine also runs) and of spine uplinks (every spine mode the core also runs); the spine's and
  core's downlinks follow the speed of the tier below.

A candidate meets the intent when it keeps every tier's oversubscription, has the tiers asked for,
is sized for growth to `fabric.max_servers` (and priced at that size, so the choice does not change
as servers are added) and each of its switches fits a rack's power budget.

Every candidate is an explicit intent a user could have written; it is sized by counting (sizing.py)
and priced from those counts, and only the winner is built. The objective (`fabric.objective`):
- `cost` (default): switches + every backend cable and optic (server-leaf, leaf-spine, spine-core),
  each priced as the plan's BOM prices it (same floor layout, same cable choice);
- `switches`: fewest switches; `optics`: cheapest cables and optics; `power`: least switch + optic power.
Ties go to the lower cost, then fewer switches, then the order above (fewer tiers and planes first).
A candidate that needs a link no catalog cable or optic serves cannot be priced and is not chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tokenfab.catalog import Catalog, Switch
from tokenfab.design import media
from tokenfab.design.racks import SLACK_M, servers_per_rack
from tokenfab.design.sizing import Sizing, find_mode, size
from tokenfab.errors import InfeasibleError, InputError
from tokenfab.intent import Intent

OBJECTIVES = ("cost", "switches", "optics", "power")


@dataclass(frozen=True)
class Choice:
    """What one candidate fixes: the fields a user would otherwise write by hand."""

    architecture: str
    tiers: int
    planes: int
    leaf_model: str
    spine_model: str | None = None
    core_model: str | None = None
    leaf_down: str | None = None  # SONiC breakout mode names
    leaf_up: str | None = None
    spine_up: str | None = None

    def label(self) -> str:
        models = [m for m in (self.leaf_model, self.spine_model, self.core_model) if m]
        same = len(set(models)) == 1
        parts = [
            self.architecture,
            f"{self.tiers} tier{'s' if self.tiers > 1 else ''}",
            f"{self.planes} plane{'s' if self.planes > 1 else ''}",
            models[0] if same else "/".join(models),
        ]
        modes = (
            [f"leaf down {self.leaf_down}"]
            + ([f"leaf up {self.leaf_up}"] if self.leaf_up else [])
            + ([f"spine up {self.spine_up}"] if self.spine_up else [])
        )
        return ", ".join(parts + modes)

    def short(self) -> str:
        """`rail-optimized 3T 2P CX864E-N 4x200G/2x400G/1x800G` (tiers, planes, models, breakouts bottom-up)."""
        models = [m for m in (self.leaf_model, self.spine_model, self.core_model) if m]
        modes = [m.split("[")[0] for m in (self.leaf_down, self.leaf_up, self.spine_up) if m]
        return (
            f"{self.architecture} {self.tiers}T {self.planes}P "
            f"{models[0] if len(set(models)) == 1 else '/'.join(models)} {'/'.join(modes)}"
        )


@dataclass
class Candidate:
    choice: Choice
    intent: Intent | None = None
    sizing: Sizing | None = None
    cost_usd: float = math.inf
    optics_usd: float = math.inf
    power_w: float = math.inf
    switches: int = 0
    error: str = ""
    verdict: str = ""
    exc: InputError | None = None

    @property
    def feasible(self) -> bool:
        return not self.error

    def key(self, objective: str, order: int) -> tuple:
        main = {"cost": self.cost_usd, "switches": self.switches, "optics": self.optics_usd, "power": self.power_w}[objective]
        return (round(main, 2), round(self.cost_usd, 2), self.switches, order)


@dataclass
class Search:
    objective: str
    candidates: list[Candidate]
    best: Candidate
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """The full table (`tokenfab plan --explain`), best first, infeasible last."""
        out = []
        for c in self.candidates:
            ch = c.choice
            out.append(
                {
                    "candidate": ch.label(),
                    "architecture": ch.architecture,
                    "tiers": ch.tiers,
                    "planes": ch.planes,
                    "leaf": ch.leaf_model,
                    "spine": ch.spine_model or "",
                    "core": ch.core_model or "",
                    "leaf_down": ch.leaf_down or "",
                    "leaf_up": ch.leaf_up or "",
                    "spine_up": ch.spine_up or "",
                    "switches": c.switches if c.feasible else "",
                    "cost_usd": round(c.cost_usd, 2) if c.feasible else "",
                    "optics_usd": round(c.optics_usd, 2) if c.feasible else "",
                    "power_w": round(c.power_w, 1) if c.feasible else "",
                    "verdict": c.verdict,
                }
            )
        return out


# ---------------------------------------------------------------- the space


def plane_options(intent: Intent, catalog: Catalog) -> list[int]:
    """Planes the intent allows: its own number, or for `auto` every split of the NIC's speed that the
    NIC runs per port (its catalog port speeds) into 1..8 parallel fabrics."""
    c = intent.cluster
    if c.planes != "auto":
        return [int(c.planes)]
    nic = catalog.nics[c.nic_model]
    speed = c.nic_speed_gbps or nic.speed_gbps
    speeds = set(nic.port_speeds_gbps) or {speed}
    return [p for p in range(1, 9) if speed % p == 0 and (p == 1 or speed // p in speeds)]


def _models(intent: Intent, tier: str) -> list[str]:
    f = intent.fabric
    own = getattr(f, tier).switch_model
    if own:
        return [own]
    return list(f.switch_model) if isinstance(f.switch_model, list) else [f.switch_model]


def _modes_to(lower: Switch, upper: Switch, wanted: str | None) -> list[str | None]:
    """Uplink modes of `lower` that `upper` can terminate (at the same speed), or the user's one."""
    if wanted:
        return [wanted]
    out: list[str | None] = [m.mode for m in lower.breakout_modes if upper.mode_for_speed(m.speed_gbps)]
    return out or [None]  # None: sizing explains why the two share no speed


def choices(intent: Intent, catalog: Catalog) -> list[Choice]:
    """Every explicit design the intent leaves open, in a fixed order (fewer tiers/planes first)."""
    f, c = intent.fabric, intent.cluster
    if f.architecture == "auto":
        archs = ["rail-optimized"] + (["rail-only"] if f.cross_rail == "nvlink" else [])
    else:
        archs = [f.architecture]
    nic = catalog.nics[c.nic_model]
    speed = c.nic_speed_gbps or nic.speed_gbps
    out: list[Choice] = []
    for tiers in [1, 2, 3] if f.tiers == "auto" else [int(f.tiers)]:
        for arch in archs:
            if arch == "rail-only" and tiers == 3:
                continue
            for planes in plane_options(intent, catalog):
                for lm in _models(intent, "leaf"):
                    leaf = catalog.switches[lm]
                    downs: list[str | None] = (
                        [f.leaf.downlink_breakout]
                        if f.leaf.downlink_breakout
                        else [m.mode for m in leaf.breakout_modes if m.speed_gbps == speed // planes]
                    )
                    downs = downs or [None]
                    for down in downs:
                        if tiers == 1:
                            out.append(Choice(arch, 1, planes, lm, leaf_down=down))
                            continue
                        for sm in _models(intent, "spine"):
                            for up in _modes_to(leaf, catalog.switches[sm], f.leaf.uplink_breakout):
                                if tiers == 2:
                                    out.append(Choice(arch, 2, planes, lm, sm, leaf_down=down, leaf_up=up))
                                    continue
                                for cm in _models(intent, "core"):
                                    for sup in _modes_to(catalog.switches[sm], catalog.switches[cm], f.spine.uplink_breakout):
                                        out.append(Choice(arch, 3, planes, lm, sm, cm, down, up, sup))
    return out


def explicit(intent: Intent, ch: Choice) -> Intent:
    """The intent with the choice written in, as a user would have written it."""
    f = intent.fabric
    leaf = f.leaf.model_copy(
        update={
            "switch_model": ch.leaf_model,
            "downlink_breakout": ch.leaf_down,
            "uplink_breakout": ch.leaf_up if ch.tiers > 1 else f.leaf.uplink_breakout,
        }
    )
    spine = f.spine.model_copy(
        update={
            "switch_model": ch.spine_model or f.spine.switch_model,
            "uplink_breakout": ch.spine_up if ch.tiers > 2 else f.spine.uplink_breakout,
        }
    )
    core = f.core.model_copy(update={"switch_model": ch.core_model or f.core.switch_model})
    fab = f.model_copy(
        update={
            "architecture": ch.architecture,
            "tiers": ch.tiers,
            "switch_model": ch.leaf_model,
            "leaf": leaf,
            "spine": spine,
            "core": core,
        }
    )
    cluster = intent.cluster.model_copy(update={"planes": ch.planes})
    return intent.model_copy(update={"fabric": fab, "cluster": cluster})


# ---------------------------------------------------------------- pricing by counting


def link_lengths(intent: Intent, catalog: Catalog, sz: Sizing) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(length in m, number of links) per link kind, from the floor layout racks.place uses."""
    L = intent.fabric.cable_lengths
    w, pitch = intent.racks.rack_width_m, intent.racks.row_pitch_m
    spr = servers_per_rack(intent, catalog)
    d = sz.servers_per_su
    rps = math.ceil(d / spr)
    half_row = rps / 2 * w
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # server-leaf: one link per NIC port; a server's position in its unit sets its run
    pos = np.arange(d)
    per_pos = np.bincount(np.arange(sz.servers) % d, minlength=d) * sz.rails * sz.planes
    length = np.full(d, L.server_leaf_m) if L.server_leaf_m else np.abs(pos // spr + 0.5 - rps / 2) * w + SLACK_M
    out["nic"] = (np.round(length, 1), per_pos)
    if sz.tiers >= 2:
        su = np.arange(1 if sz.shared_leaf else sz.scalable_units)
        if sz.tiers == 3:
            spine_row = (su // sz.sus_per_pod) * sz.sus_per_pod + (sz.sus_per_pod - 1) / 2
        else:
            spine_row = np.full(len(su), (sz.scalable_units_max - 1) / 2)
        length = np.full(len(su), L.leaf_spine_m) if L.leaf_spine_m else np.abs(su - spine_row) * pitch + half_row + SLACK_M
        leaves_per_su = 1 if sz.shared_leaf else sz.rails
        out["leaf-spine"] = (np.round(length, 1), np.full(len(su), leaves_per_su * sz.planes * sz.leaf.up_ports))
    if sz.tiers == 3 and sz.spine is not None:
        pod = np.arange(sz.pods)
        row = pod * sz.sus_per_pod + (sz.sus_per_pod - 1) / 2
        core_row = (sz.pods_max * sz.sus_per_pod - 1) / 2
        length = np.full(len(pod), L.spine_core_m) if L.spine_core_m else np.abs(row - core_row) * pitch + half_row + SLACK_M
        out["spine-core"] = (np.round(length, 1), np.full(len(pod), sz.spines_per_group * sz.planes * sz.spine.up_ports))
    return out


def price(intent: Intent, catalog: Catalog, sz: Sizing, cand: Candidate) -> None:
    """Fill the candidate's cost, optics cost, power and switch count from the sizing alone."""

    def usd(kind: str, model: str) -> float:
        return intent.prices_usd.get(model, catalog.get(kind, model).price_usd)

    def watts(kind: str, model: str) -> float:
        return intent.power_w.get(model, catalog.get(kind, model).power_w)

    budget_w = intent.racks.power_budget_kw * 1000
    for model in {sz.leaf.model, *(t.model for t in (sz.spine, sz.core) if t)}:
        if watts("switches", model) > budget_w:  # racks.place would refuse it: a switch must fit a rack
            raise InfeasibleError(
                f"one {model} draws {watts('switches', model):.0f} W; the rack budget is {budget_w:.0f} W",
                "racks.power_budget_kw",
            )
    counts = [(sz.leaf.model, sz.leaves * sz.planes)]
    if sz.spine:
        counts.append((sz.spine.model, sz.spines * sz.planes))
    if sz.core:
        counts.append((sz.core.model, sz.cores * sz.planes))
    switch_usd = sum(usd("switches", m) * n for m, n in counts)
    power = sum(watts("switches", m) * n for m, n in counts)
    speeds = {
        "nic": sz.link_speed_gbps,
        "leaf-spine": sz.leaf.up_speed_gbps,
        "spine-core": sz.spine.up_speed_gbps if sz.spine else 0,
    }
    optics = 0.0
    for kind, (lengths, n) in link_lengths(intent, catalog, sz).items():
        for length in np.unique(lengths[n > 0]).tolist():
            k = int(n[lengths == length].sum())
            o = media.choose(catalog, speeds[kind], length)
            if o is None:
                raise InfeasibleError(f"no catalog cable or optic runs {speeds[kind]}G over {length:g} m ({kind} links)")
            ends = 2 if o.kind == "transceiver" else 1
            fiber = media.fiber_for(catalog, o)
            optics += k * (usd("optics", o.model) * ends + (usd("optics", fiber.model) if fiber else 0.0))
            power += k * watts("optics", o.model) * ends
    cand.switches = sum(n for _, n in counts)
    cand.optics_usd = optics
    cand.cost_usd = switch_usd + optics
    cand.power_w = power


def evaluate(intent: Intent, catalog: Catalog, ch: Choice) -> Candidate:
    cand = Candidate(ch)
    try:
        it = explicit(intent, ch)
        sz = size(it, catalog, ch.architecture, ch.tiers)
        if sz.tiers != ch.tiers:
            raise InfeasibleError(f"sized as {sz.tiers} tiers")
        cand.intent, cand.sizing = it, sz
        grown = it.fabric.max_servers or 0
        if grown > it.cluster.servers:
            # growth: rank by the fabric it grows into, so the choice stays the same as servers are added
            full = it.model_copy(update={"cluster": it.cluster.model_copy(update={"servers": grown})})
            price(full, catalog, size(full, catalog, ch.architecture, ch.tiers), cand)
        else:
            price(it, catalog, sz, cand)
    except InputError as exc:
        cand.error, cand.exc = str(exc), exc
    return cand


def search(intent: Intent, catalog: Catalog) -> Search:
    """Size and price every candidate; the best by the intent's objective wins."""
    objective = intent.fabric.objective
    cands = [evaluate(intent, catalog, ch) for ch in choices(intent, catalog)]
    ok = [(i, c) for i, c in enumerate(cands) if c.feasible]
    if not ok:
        raise _why_none(intent, cands)
    order = sorted(ok, key=lambda ic: ic[1].key(objective, ic[0]))
    best = order[0][1]
    best.verdict = "chosen"
    for _, c in order[1:]:
        c.verdict = _lost(c, best, objective)
    for c in cands:
        if not c.feasible:
            c.verdict = f"infeasible: {c.error}"
    ranked = [c for _, c in order] + [c for c in cands if not c.feasible]
    return Search(objective, ranked, best, _notes(intent, ranked, best, objective))


def _lost(c: Candidate, best: Candidate, objective: str) -> str:
    if objective == "switches" and c.switches != best.switches:
        return f"{c.switches - best.switches:+,} switches"
    if objective == "optics" and round(c.optics_usd, 2) != round(best.optics_usd, 2):
        return f"{_usd(c.optics_usd - best.optics_usd)} in optics"
    if objective == "power" and round(c.power_w, 1) != round(best.power_w, 1):
        return f"{(c.power_w - best.power_w) / 1000:+,.1f} kW"
    if round(c.cost_usd, 2) != round(best.cost_usd, 2):
        return _usd(c.cost_usd - best.cost_usd) + ("" if objective == "cost" else " (tie on the objective)")
    if c.switches != best.switches:
        return f"same cost, {c.switches - best.switches:+,} switches"
    return "tie: an earlier candidate (fewer tiers/planes, listed first) wins"


def _notes(intent: Intent, ranked: list[Candidate], best: Candidate, objective: str, shown: int = 6) -> list[str]:
    n_ok = sum(c.feasible for c in ranked)
    if len(ranked) == 1:
        return []
    grown = intent.fabric.max_servers or 0
    at = f" (priced at max_servers {grown:,})" if grown > intent.cluster.servers else ""
    lines = [
        f"auto chose {best.choice.label()}: ${best.cost_usd:,.0f} in switches and optics, {_n(best.switches, 'switch')}; "
        f"best by {objective} of {len(ranked)} candidates ({n_ok} feasible){at}"
    ]
    for c in ranked[1:shown]:
        if c.feasible:
            lines.append(f"  not {c.choice.label()}: ${c.cost_usd:,.0f}, {_n(c.switches, 'switch')} ({c.verdict})")
        else:
            lines.append(f"  not {c.choice.label()}: {c.verdict}")
    if len(ranked) > shown:
        lines.append(f"  ... {len(ranked) - shown} more (tokenfab plan --explain lists every candidate)")
    return lines


def _usd(delta: float) -> str:
    return f"{'+' if delta >= 0 else '-'}${abs(delta):,.0f}"


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "es" if noun.endswith("ch") else "s")


def _why_none(intent: Intent, cands: list[Candidate]) -> InputError:
    if len(cands) == 1 and cands[0].exc is not None:
        return cands[0].exc  # the one explicit design's own error, with its field
    reasons = sorted({c.error for c in cands})
    shown = "; ".join(reasons[:4]) + (f"; and {len(reasons) - 4} more" if len(reasons) > 4 else "")
    return InfeasibleError(f"none of the {len(cands)} candidate designs can be built: {shown}", "fabric")


__all__ = ["Choice", "Candidate", "Search", "OBJECTIVES", "choices", "explicit", "evaluate", "search", "find_mode"]
