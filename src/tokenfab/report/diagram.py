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
    for r, idx, y in rows:
        if not len(idx):
            continue
        shown = idx[:MAX_DRAWN]
        xs = _row(ax, y, [names[i] for i in shown], r, len(idx) - len(shown), width)
        pos.update({int(i): (x, y) for i, x in zip(shown, xs)})
    drawn = np.isin(L["a"], list(pos)) & np.isin(L["b"], list(pos))
    pairs = sorted({(int(a), int(b)) for a, b in zip(L["a"][drawn], L["b"][drawn])})
    for a, b in pairs:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.plot([x1, x2], [y1 + 0.2, y2 - 0.2], color="grey", lw=0.3, alpha=0.6)
    others = d["scalable_units"] - 1
    title = (f"{f.intent.name}: {d['gpus']:,} GPUs, {d['architecture']}, {d['tiers']} tier(s), "
             f"{d['leaves']} leaves, {d['spines']} spines, {d['cores']} cores"
             + (f", {d['planes']} planes (plane 1 shown)" if d["planes"] > 1 else ""))
    ax.set_title(title, fontsize=9)
    ax.text(0, 0.3, f"scalable unit 1 drawn in full ({d['servers_per_su']} servers x {d['rails']} rails)"
            + (f"; {others} more scalable units alike" if others > 0 else "")
            + (f"; {d['pods']} pods of {d['sus_per_pod']} units" if d["pods"] else ""), fontsize=7)
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(0, 4.6)
    ax.axis("off")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()
