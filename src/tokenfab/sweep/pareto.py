"""Pareto front over two objectives, and its plot."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tokenfab.sweep.spec import SweepSpec  # noqa: E402


def front(rows: list[dict], spec: SweepSpec) -> list[int]:
    """Point numbers not dominated by any other feasible point."""
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return []
    signs = np.array([1.0 if o.goal == "min" else -1.0 for o in spec.objectives])
    v = np.array([[r[o.metric] for o in spec.objectives] for r in ok], dtype=float) * signs
    keep = []
    for i in range(len(v)):
        dominated = np.all(v <= v[i], axis=1) & np.any(v < v[i], axis=1)
        if not dominated.any():
            keep.append(ok[i]["point"])
    return keep


def pareto_svg(rows: list[dict], spec: SweepSpec, on_front: list[int]) -> str:
    plt.rcParams["svg.hashsalt"] = "tokenfab"
    x_m, y_m = (o.metric for o in spec.objectives)
    ok = [r for r in rows if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [r[x_m] for r in ok]
    ys = [r[y_m] for r in ok]
    ax.scatter(xs, ys, s=14, color="#bbbbbb", label="designs")
    best = sorted((r for r in ok if r["point"] in on_front), key=lambda r: r[x_m])
    ax.plot([r[x_m] for r in best], [r[y_m] for r in best], "o-", color="#008837", label="Pareto front")
    for r in best:
        ax.annotate(str(r["point"]), (r[x_m], r[y_m]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{x_m} ({spec.objectives[0].goal})")
    ax.set_ylabel(f"{y_m} ({spec.objectives[1].goal})")
    ax.set_title(f"sweep {spec.name}: {len(ok)} feasible of {len(rows)} designs")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()
