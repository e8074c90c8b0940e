"""Pareto front over any number of objectives, and its plots (deterministic SVG)."""

from __future__ import annotations

import io
import itertools

import numpy as np

from tokenfab.sweep.metrics import unit
from tokenfab.sweep.spec import Objective


def _scored(rows: list[dict], objectives: list[Objective]) -> list[dict]:
    return [
        r
        for r in rows
        if r["status"] == "ok"
        and all(isinstance(r.get(o.metric), (int, float)) and not isinstance(r.get(o.metric), bool) for o in objectives)
    ]


def front(rows: list[dict], objectives: list[Objective]) -> list[int]:
    """Point numbers of feasible points that no other point beats on every objective."""
    ok = _scored(rows, objectives)
    if not ok:
        return []
    signs = np.array([1.0 if o.goal == "min" else -1.0 for o in objectives])
    v = np.array([[r[o.metric] for o in objectives] for r in ok], dtype=float) * signs
    keep = []
    for i in range(len(v)):
        dominated = np.all(v <= v[i], axis=1) & np.any(v < v[i], axis=1)
        if not dominated.any():
            keep.append(ok[i]["point"])
    return keep


def label(o: Objective) -> str:
    u = unit(o.metric)
    return f"{o.metric}" + (f" ({u})" if u else "") + (", lower is better" if o.goal == "min" else ", higher is better")


def plots(rows: list[dict], objectives: list[Objective], on_front: list[int], title: str) -> dict[str, str]:
    """One SVG per pair of objectives (the front drawn over every feasible point); with a single
    objective, the points ranked by it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "tokenfab"
    plt.rcParams["svg.fonttype"] = "none"  # labels stay text: searchable, and smaller files
    ok = _scored(rows, objectives)
    best = set(on_front)
    out: dict[str, str] = {}
    pairs: list[tuple[Objective, Objective | None]] = []
    pairs.extend(itertools.islice(itertools.combinations(objectives, 2), 10))
    if not pairs:
        pairs.append((objectives[0], None))
    for x, y in pairs:
        fig, ax = plt.subplots(figsize=(8, 5))
        if y is None:
            ranked = sorted(ok, key=lambda r: r[x.metric], reverse=x.goal == "max")
            ax.plot(range(1, len(ranked) + 1), [r[x.metric] for r in ranked], "o-", color="#008837", ms=4)
            ax.set_xlabel("rank (best first)")
            ax.set_ylabel(label(x))
            name = f"objective-{x.metric}.svg"
        else:
            ax.scatter([r[x.metric] for r in ok], [r[y.metric] for r in ok], s=14, color="#bbbbbb", label="points")
            fr = sorted((r for r in ok if r["point"] in best), key=lambda r: (r[x.metric], r[y.metric]))
            ax.plot(
                [r[x.metric] for r in fr],
                [r[y.metric] for r in fr],
                "o",
                color="#008837",
                label=f"Pareto front over {len(objectives)} objective{'s' if len(objectives) > 1 else ''}",
            )
            for r in fr:
                ax.annotate(str(r["point"]), (r[x.metric], r[y.metric]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel(label(x))
            ax.set_ylabel(label(y))
            ax.legend(fontsize=8)
            name = f"pareto-{x.metric}--{y.metric}.svg"
        ax.set_title(f"{title}: {len(ok)} feasible of {len(rows)} points")
        ax.grid(alpha=0.3)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
        out[name] = buf.getvalue()
    return out
