"""Topology diagram (SVG). One scalable unit (or one pod) is drawn in full, the rest summarised,
so the picture stays readable at 100k GPUs. Deterministic: fixed hash salt, no date."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tokenfab.design.model import Fabric  # noqa: E402

COLORS = {"core": "#7b3294", "spine": "#c2a5cf", "leaf": "#008837", "server": "#a6dba0"}
MAX_DRAWN = 16  # boxes per row before the rest is summarised


def _row(ax, y: float, labels: list[str], role: str, more: int, width: float) -> list[float]:
    n = len(labels) + (1 if more else 0)
    xs = list(np.linspace(0.5, width - 0.5, n)) if n > 1 else [width / 2]
    for x, label in zip(xs, labels):
        ax.add_patch(plt.Rectangle((x - 0.45, y - 0.2), 0.9, 0.4, color=COLORS[role], ec="black", lw=0.5))
        ax.text(x, y, label, ha="center", va="center", fontsize=5)
    if more:
        ax.text(xs[-1], y, f"+{more} more", ha="center", va="center", fontsize=6, style="italic")
    return xs[: len(labels)]


def topology_svg(f: Fabric) -> str:
    plt.rcParams["svg.hashsalt"] = "tokenfab"
    fig = topology_figure(f)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def topology_figure(f: Fabric):
    D, L, d = f.devices, f.links, f.design
    names, role = D["name"], D["role"]
    # the first scalable unit (plane 1) in full: its leaves, their spines, those spines' cores
    leaves = np.flatnonzero((role == "leaf") & (D["su"] == 1) & (D["plane"] == 1))
    su_servers = np.flatnonzero((role == "server") & (D["su"] == 1))
    up = L["kind"] != "nic"
    spines = np.unique(L["b"][up & np.isin(L["a"], leaves)])
    cores = np.unique(L["b"][up & np.isin(L["a"], spines)])
    width = float(max(MAX_DRAWN, 8))
    fig, ax = plt.subplots(figsize=(12, 6))
    rows = [("core", cores, 4.0), ("spine", spines, 3.0), ("leaf", leaves, 2.0), ("server", su_servers, 1.0)]
    pos: dict[int, tuple[float, float]] = {}
    totals = {"core": d.cores, "spine": d.spines, "leaf": d.leaves, "server": d.servers}
    for r, idx, y in rows:
        if not len(idx):
            continue
        plural = {"leaf": "leaves"}.get(r, r + "s")
        ax.text(-0.4, y, f"{plural}\n{min(len(idx), MAX_DRAWN)} shown\nof {totals[r]:,}", ha="right", va="center", fontsize=6)
        shown = idx[:MAX_DRAWN]
        xs = _row(ax, y, [names[i] for i in shown], r, len(idx) - len(shown), width)
        pos.update({int(i): (x, y) for i, x in zip(shown, xs)})
    drawn = np.isin(L["a"], list(pos)) & np.isin(L["b"], list(pos))
    pairs, counts = np.unique(np.stack([L["a"][drawn], L["b"][drawn]]), axis=1, return_counts=True)
    speeds = {(int(a), int(b)): int(s) for a, b, s in zip(L["a"][drawn], L["b"][drawn], L["speed_gbps"][drawn])}
    roles = D["role"]
    label = int((roles[pairs[0]] != "server").sum()) <= 32
    for (a, b), n in zip(pairs.T.tolist(), counts.tolist()):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.plot([x1, x2], [y1 + 0.2, y2 - 0.2], color="grey", lw=0.3 + 0.1 * min(n, 16), alpha=0.6)
        if label and n > 1 and roles[a] != "server":
            ax.text(
                (x1 + x2) / 2,
                (y1 + y2) / 2,
                f"{n}x{speeds[(a, b)]}G",
                fontsize=5,
                ha="center",
                bbox={"fc": "white", "ec": "none", "pad": 0.5},
            )
    others = d.scalable_units - 1
    title = (
        f"{f.intent.name}: {d.gpus:,} GPUs, {d.architecture}, {d.tiers} tier(s), "
        f"{d.leaves} leaves, {d.spines} spines, {d.cores} cores"
        + (f", {d.planes} planes (plane 1 shown)" if d.planes > 1 else "")
    )
    ax.set_title(title, fontsize=9)
    ax.text(
        0,
        0.3,
        f"scalable unit 1 drawn in full ({d.servers_per_su} servers x {d.rails} rails)"
        + (f"; {others} more scalable units alike" if others > 0 else "")
        + (f"; {d.pods} pods of {d.sus_per_pod} units" if d.pods else ""),
        fontsize=7,
    )
    ax.set_xlim(-2.0, width + 0.5)
    ax.set_ylim(0, 4.6)
    ax.axis("off")
    return fig
