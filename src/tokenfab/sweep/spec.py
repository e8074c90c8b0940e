"""The sweep file (YAML):

    name: leaf-choices
    base: rail-optimized-256.yaml        # an intent file (relative to this file) or an inline mapping
    axes:                                # the cartesian product of all axes is evaluated
      - {path: fabric.switch_model, values: [CX864E-N, SN5600, TH5-64x800G]}
      - {path: fabric.leaf.oversubscription, values: [1, 2, 3]}
    objectives:                          # the Pareto front is taken over these
      - {metric: network_cost_usd, goal: min}
      - {metric: uplink_gbps_per_gpu, goal: max}
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tokenfab.strict import StrictModel
from tokenfab.errors import InputError
from tokenfab.fileio import load_yaml
from tokenfab.intent import parse_intent, validated



class Axis(StrictModel):
    path: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)*$")
    values: list[Any] = Field(min_length=1)


class Objective(StrictModel):
    metric: str
    goal: Literal["min", "max"]


class SweepSpec(StrictModel):
    name: str = Field("sweep", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    base: str | dict
    axes: list[Axis] = Field(min_length=1)
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="network_cost_usd", goal="min"),
                                 Objective(metric="uplink_gbps_per_gpu", goal="max")], min_length=2, max_length=2)


def set_path(data: dict, path: str, value: Any) -> dict:
    out = copy.deepcopy(data)
    node = out
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise InputError(f"{path}: {key} is not a section of the intent")
    node[leaf] = value
    return out


def points(spec: SweepSpec, base: dict) -> list[tuple[dict[str, Any], dict]]:
    """(axis values, intent data) for every point of the grid, in a fixed order."""
    out = []
    for combo in itertools.product(*(a.values for a in spec.axes)):
        data = base
        for axis, value in zip(spec.axes, combo):
            data = set_path(data, axis.path, value)
        out.append(({a.path: v for a, v in zip(spec.axes, combo)}, data))
    return out


def check_bounds(spec: SweepSpec, source: str) -> None:
    """Before any work: the grid is bounded and every objective names a metric a point reports."""
    from tokenfab.numbers import MAX_GRID_POINTS
    from tokenfab.sweep.metrics import METRICS

    size = 1
    for axis in spec.axes:
        size *= len(axis.values)
        if size > MAX_GRID_POINTS:
            sizes = " x ".join(str(len(a.values)) for a in spec.axes)
            raise InputError(f"{source}: axes: the grid has {sizes} points; at most {MAX_GRID_POINTS:,} "
                             "(split the sweep or drop values)")
    numeric = [m for m in METRICS if m not in ("architecture",)]
    for i, o in enumerate(spec.objectives):
        if o.metric not in numeric:
            raise InputError(f"{source}: objectives.{i}.metric: unknown metric {o.metric[:60]!r}; "
                             f"known: {', '.join(numeric)}")


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict]:
    """The spec and its base intent as data; every axis path is checked against the intent."""
    path = Path(path)
    raw = load_yaml(path, "sweep")
    spec = validated(SweepSpec, raw, str(path), "name, base, axes, objectives")
    check_bounds(spec, str(path))
    if isinstance(spec.base, str):
        base = load_yaml(path.parent / spec.base, f"{path}: base intent")
    else:
        base = spec.base
    if not isinstance(base, dict):
        raise InputError(f"{path}: base: expected an intent mapping")
    parse_intent(base, f"{path}: base")
    # a misspelt path or a value the intent refuses is a spec error, found before any work
    for i, axis in enumerate(spec.axes):
        for value in axis.values:
            parse_intent(set_path(base, axis.path, value), f"{path}: axes[{i}] ({axis.path}={value!r})")
    return spec, base
