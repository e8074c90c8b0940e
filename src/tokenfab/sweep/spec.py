"""The sweep file (YAML). A point is an intent variant x (optionally) a simulate scenario or a
factory-file variant:

    name: fabric-for-tokens
    base: rail-optimized-256.yaml          # intent file (relative to this file) or an inline mapping
    factory: factory-256.yaml              # optional: run this factory on every design (its fabric replaced)
    simulate:                              # optional: and/or this collective scenario
      collectives: [all_reduce, all_to_all]
      routing: [ecmp, adaptive]
      size: 1G
      gpus: 64
    axes:                                  # an axis path starts with the section it changes:
      - {path: fabric.switch_model, values: [CX864E-N, TH5-64x800G]}        # the intent (default)
      - {path: fabric.leaf.oversubscription, range: [1, 3]}                  # continuous (random / lhs)
      - {path: simulate.qps, values: [1, 4]}                                 # the simulate scenario
      - {path: factory.scheduler.policy, values: [topology-aware, first-fit]} # the factory file
    sampling: {method: lhs, points: 40, seed: 1}    # grid (default: every combination), random, lhs
    constraints:                           # prune a design before its simulate/factory points run
      - {metric: network_cost_usd, max: 5000000}
      - {metric: switches, max: 64}
    objectives:                            # any number; the Pareto front is taken over all of them
      - {metric: usd_per_mtoken, goal: min}
      - {metric: tokens_per_kwh, goal: max}

Metric names are checked before anything runs (tokenfab.sweep.metrics lists them with units).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from tokenfab.errors import InputError
from tokenfab.fileio import load_yaml
from tokenfab.intent import parse_intent, validated
from tokenfab.strict import StrictModel

SECTIONS = ("intent", "simulate", "factory")
Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "reduce"]
RoutingMode = Literal["ecmp", "adaptive", "spray"]


class Axis(StrictModel):
    path: str = Field(
        pattern=r"^[a-z_]+(\.[a-z0-9_]+)*$",
        description="dotted path: into the intent (fabric.leaf.oversubscription, or intent.<path>), "
        "the simulate scenario (simulate.<option>) or the factory file (factory.<path>)",
    )
    values: list[Any] | None = Field(None, min_length=1, description="the values to try")
    range: tuple[float, float] | None = Field(None, description="[low, high] for random or Latin hypercube sampling")
    integer: bool = Field(False, description="round sampled values of a range to integers")

    @model_validator(mode="after")
    def _one(self) -> Axis:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of values or range")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range: low must be below high (got {list(self.range)})")
        return self

    @property
    def section(self) -> str:
        head = self.path.split(".", 1)[0]
        return head if head in SECTIONS else "intent"

    @property
    def key(self) -> str:
        """The path inside its section."""
        head, _, rest = self.path.partition(".")
        return rest if head in SECTIONS else self.path


class Objective(StrictModel):
    metric: str = Field(description="a metric name (tokenfab.sweep.metrics)")
    goal: Literal["min", "max"] = Field(description="minimise or maximise")


class Constraint(StrictModel):
    metric: str = Field(description="a plan metric (known before simulating): network_cost_usd, power_kw, switches, ...")
    max: float | None = Field(None, description="largest value allowed")
    min: float | None = Field(None, description="smallest value allowed")

    @model_validator(mode="after")
    def _bound(self) -> Constraint:
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        return self


class Sampling(StrictModel):
    method: Literal["grid", "random", "lhs"] = Field(
        "grid",
        description="grid: every combination of the axes' values; random: uniform draws; lhs: Latin hypercube (scipy.stats.qmc)",
    )
    points: int | None = Field(None, ge=1, le=1_000_000, description="how many points random and lhs draw")
    seed: int = Field(0, description="seed of random and lhs draws")

    @model_validator(mode="after")
    def _points(self) -> Sampling:
        if self.method != "grid" and self.points is None:
            raise ValueError(f"{self.method} sampling needs points")
        return self


class Scenario(StrictModel):
    """A collective benchmark run on every design (as `tokenfab simulate` runs it)."""

    collectives: list[Collective] = Field(
        default_factory=lambda: list[Collective](["all_reduce"]), min_length=1, description="collectives to time"
    )
    routing: list[RoutingMode] = Field(
        default_factory=lambda: list[RoutingMode](["ecmp"]),
        min_length=1,
        description="routing modes to time each collective under",
    )
    size: str | int = Field("1G", description="message size in bytes (K/M/G = 2^10/2^20/2^30)")
    gpus: int | None = Field(None, ge=2, description="the first N GPUs (default: all)")
    servers: str | None = Field(None, description="whole servers in ring order, e.g. srv-1..srv-16")
    qps: int = Field(1, ge=1, le=64, description="QPs per connection")
    seed: int = Field(0, description="ECMP hash / QP seed")
    fail: list[str] = Field(default_factory=list, description="links or switches down (names as in tokenfab.names)")
    loss: float = Field(0.0, ge=0, lt=1, description="packet loss probability on every link")
    compute_s: float = Field(0.1, gt=0, description="compute time before the collective, for the GPU idle share")

    @property
    def size_bytes(self) -> int:
        return parse_size(self.size)


def parse_size(value: str | int) -> int:
    if isinstance(value, int):
        return value
    text = value.strip().upper().removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    try:
        n = float(text[:-1] if text[-1:] in "KMGT" else text)
    except ValueError:
        raise InputError(f"simulate.size: not a size (got {value!r}; e.g. 1G, 256M, 4096)") from None
    if n <= 0:
        raise InputError(f"simulate.size: must be > 0 (got {value!r})")
    return int(n * mult)


class SweepSpec(StrictModel):
    name: str = Field("sweep", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="the sweep's name")
    base: str | dict = Field(description="base intent: a file (relative to the sweep file) or an inline mapping")
    factory: str | dict | None = Field(None, description="factory file (relative) or inline mapping run on every design")
    simulate: Scenario | None = Field(None, description="collective scenario simulated on every design")
    axes: list[Axis] = Field(min_length=1, description="what varies")
    sampling: Sampling = Field(
        default_factory=lambda: Sampling.model_validate({}), description="how points are drawn from the axes"
    )
    constraints: list[Constraint] = Field(default_factory=list, description="designs outside these are pruned")
    objectives: list[Objective] = Field(
        default_factory=lambda: [
            Objective(metric="network_cost_usd", goal="min"),
            Objective(metric="uplink_gbps_per_gpu", goal="max"),
        ],
        min_length=1,
        description="the Pareto front is taken over all of them",
    )
    best: int = Field(5, ge=0, le=1000, description="how many designs on the front to write out as intents")


@dataclass(frozen=True)
class Point:
    number: int  # 1-based, in sampling order
    axes: dict[str, Any]  # axis path -> value
    intent: dict  # the intent data of this point
    design: str  # key of the intent data: points sharing it share one plan
    simulate: dict | None  # the scenario's data, axes applied
    factory: dict | None  # the factory file's data, axes applied


def set_path(data: dict, path: str, value: Any, what: str = "intent") -> dict:
    """A copy of `data` with `value` at the dotted `path`; a number steps into a list (`jobs.0.count`)."""
    out = copy.deepcopy(data)
    node: Any = out
    *parents, leaf = path.split(".")
    for key in parents:
        if isinstance(node, list):
            node = _item(node, key, path, what)
            continue
        node = node.setdefault(key, {})
        if not isinstance(node, (dict, list)):
            raise InputError(f"{path}: {key} is not a section of the {what}")
    if isinstance(node, list):
        node[_index(node, leaf, path, what)] = value
    else:
        node[leaf] = value
    return out


def _index(items: list, key: str, path: str, what: str) -> int:
    if not key.isdigit() or int(key) >= len(items):
        raise InputError(f"{path}: {key!r} is not an item of that list in the {what} (it has {len(items)}; count from 0)")
    return int(key)


def _item(items: list, key: str, path: str, what: str) -> Any:
    node = items[_index(items, key, path, what)]
    if not isinstance(node, (dict, list)):
        raise InputError(f"{path}: item {key} is not a section of the {what}")
    return node


def design_key(intent: dict) -> str:
    return hashlib.sha256(json.dumps(intent, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _draws(spec: SweepSpec) -> list[tuple[Any, ...]]:
    axes = spec.axes
    s = spec.sampling
    if s.method == "grid":
        ranged = [a.path for a in axes if a.range is not None]
        if ranged:
            raise InputError(f"axes {', '.join(ranged)}: a range needs random or lhs sampling (a grid needs values)")
        from tokenfab.numbers import MAX_GRID_POINTS

        size = math.prod(len(a.values or []) for a in axes)
        if size > MAX_GRID_POINTS:
            sizes = " x ".join(str(len(a.values or [])) for a in axes)
            raise InputError(
                f"axes: the grid has {sizes} = {size:,} points; at most {MAX_GRID_POINTS:,} "
                "(split the sweep, drop values, or sample with random or lhs)"
            )
        return list(itertools.product(*(a.values or [] for a in axes)))
    n = s.points or 0
    if s.method == "random":
        u = np.random.default_rng(s.seed).random((n, len(axes)))
    else:
        from scipy.stats import qmc

        u = qmc.LatinHypercube(d=len(axes), seed=s.seed).random(n)
    out = []
    for row in u.tolist():
        combo = []
        for a, x in zip(axes, row):
            if a.values is not None:
                combo.append(a.values[min(int(x * len(a.values)), len(a.values) - 1)])
            elif a.range is not None:
                lo, hi = a.range
                v = lo + x * (hi - lo)
                combo.append(int(round(v)) if a.integer else round(v, 6))
        out.append(tuple(combo))
    return out


def points(spec: SweepSpec, base: dict, factory: dict | None = None) -> list[Point]:
    """Every point, in a fixed order (the same spec gives the same points)."""
    scenario = spec.simulate.model_dump() if spec.simulate else None
    out = []
    for i, combo in enumerate(_draws(spec), start=1):
        data, sim, fac = base, scenario, factory
        for axis, value in zip(spec.axes, combo):
            if axis.section == "intent":
                data = set_path(data, axis.key, value)
            elif axis.section == "simulate":
                sim = set_path(sim or {}, axis.key, value, "simulate scenario")
            else:
                fac = set_path(fac or {}, axis.key, value, "factory file")
        out.append(Point(i, {a.path: v for a, v in zip(spec.axes, combo)}, data, design_key(data), sim, fac))
    return out


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict, dict | None]:
    """The spec, its base intent and its factory file as data. Every axis, constraint and objective is
    checked here, before any work: a misspelt path, a value the intent refuses or an unknown metric
    is an error naming it."""
    from tokenfab.sweep.metrics import check_metrics

    path = Path(path)
    raw = load_yaml(path, "sweep")
    spec = validated(SweepSpec, raw, str(path), "name, base, axes, objectives")
    base = load_yaml(path.parent / spec.base, f"{path}: base intent") if isinstance(spec.base, str) else spec.base
    if not isinstance(base, dict):
        raise InputError(f"{path}: base: expected an intent mapping")
    base = _absolute_catalog(base, (path.parent / spec.base).parent if isinstance(spec.base, str) else path.parent)
    parse_intent(base, f"{path}: base")
    factory = None
    if spec.factory is not None:
        factory = load_yaml(path.parent / spec.factory, f"{path}: factory") if isinstance(spec.factory, str) else spec.factory
        if not isinstance(factory, dict):
            raise InputError(f"{path}: factory: expected a factory mapping")
        factory = {k: v for k, v in factory.items() if k != "compare"}  # the sweep's axes are the variants
        factory = _absolute_catalog(
            factory, (path.parent / spec.factory).parent if isinstance(spec.factory, str) else path.parent
        )
        _parse_factory(factory, f"{path}: factory")
    for i, axis in enumerate(spec.axes):
        where = f"{path}: axes.{i} ({axis.path})"
        if axis.section == "simulate":
            if spec.simulate is None:
                raise InputError(f"{where}: the sweep has no simulate scenario to vary (add simulate:)")
            if axis.key not in Scenario.model_fields:
                raise InputError(f"{where}: unknown simulate option {axis.key!r}; options: {', '.join(Scenario.model_fields)}")
        if axis.section == "factory" and factory is None:
            raise InputError(f"{where}: the sweep has no factory file to vary (add factory:)")
        for value in _axis_samples(axis):
            if axis.section == "intent":
                parse_intent(set_path(base, axis.key, value), f"{where}={value!r}")
            elif axis.section == "simulate" and spec.simulate is not None:
                validated(Scenario, set_path(spec.simulate.model_dump(), axis.key, value), f"{where}={value!r}", "simulate")
            elif factory is not None:
                _parse_factory(set_path(factory, axis.key, value, "factory file"), f"{where}={value!r}")
    if spec.simulate:
        parse_size(spec.simulate.size)
    check_metrics(spec, str(path))
    return spec, base, factory


def _axis_samples(axis: Axis) -> list[Any]:
    if axis.values is not None or axis.range is None:
        return list(axis.values or [])
    lo, hi = axis.range
    return [int(round(lo)), int(round(hi))] if axis.integer else [lo, hi]


def _absolute_catalog(data: dict, where: Path) -> dict:
    """An intent's or factory file's `catalog:` files, relative to it: absolute, so every worker finds them."""
    if not isinstance(data.get("catalog"), list):
        return data
    return dict(data, catalog=[str((where / p).resolve()) if isinstance(p, str) else p for p in data["catalog"]])


@contextlib.contextmanager
def factory_catalog(factory: dict) -> Iterator[None]:
    """Within the block, the catalog in force plus the factory file's own `catalog:` files (as
    `tokenfab factory run` reads them)."""
    from tokenfab.catalog import active_layers, use_catalog
    from tokenfab.catalog.files import read_layers

    files = factory.get("catalog")
    own = read_layers(files, origin="factory") if isinstance(files, list) and all(isinstance(f, str) for f in files) else ()
    with use_catalog(active_layers() + own):
        yield


def _parse_factory(data: dict, source: str):
    from tokenfab.factory.spec import parse_factory

    with factory_catalog(data):
        return parse_factory({**data, "fabric": data.get("fabric", "sweep")}, source)
