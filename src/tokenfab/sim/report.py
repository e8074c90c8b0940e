"""What `tokenfab simulate` prints and draws: the nccl-tests table, per-link load, a heat map."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from tokenfab.sim.api import CollectiveResult
from tokenfab.sim.sizes import REDUCING


@dataclass
class Line:
    """One size: the result of every seed (same size, same algorithm choice rule)."""

    results: list[CollectiveResult]

    @property
    def first(self) -> CollectiveResult:
        return self.results[0]

    def stat(self, attr: str) -> tuple[float, float, float]:
        v = np.array([getattr(r, attr) for r in self.results], dtype=np.float64)
        return float(v.min()), float(np.median(v)), float(v.max())


def _time_us(t_s: float) -> str:
    us = t_s * 1e6
    if us >= 10_000:
        return f"{us:7.0f}"
    if us >= 100:
        return f"{us:7.1f}"
    return f"{us:7.2f}"


def nccl_table(lines: list[Line], dtype: str, compute_s: float | None = None) -> str:
    """The nccl-tests table. With several seeds: median time and algbw, busbw min/median/max."""
    multi = len(lines[0].results) > 1 if lines else False
    coll = lines[0].first.collective if lines else ""
    redop = "sum" if coll in REDUCING else "none"
    root = 0 if coll in ("broadcast", "reduce") else -1
    head = f"# {'size':>10}  {'count':>12}  {'type':>8}  {'redop':>6}  {'root':>6}  {'time':>7}  {'algbw':>6}  {'busbw':>6}"
    units = f"# {'(B)':>10}  {'(elements)':>12}  {'':>8}  {'':>6}  {'':>6}  {'(us)':>7}  {'(GB/s)':>6}  {'(GB/s)':>6}"
    if multi:
        head += f"  {'min':>6}  {'max':>6}"
        units += f"  {'busbw':>6}  {'busbw':>6}"
    head += "  algo"
    units += "      "
    if compute_s is not None:
        head += f"  {'idle':>6}"
        units += f"  {'(%)':>6}"
    out = [head, units]
    for ln in lines:
        r = ln.first
        t = ln.stat("time_s")[1]
        alg = ln.stat("algbw_GBps")[1]
        bmin, bmed, bmax = ln.stat("busbw_GBps")
        row = f"{r.size_bytes:12d}  {r.count:12d}  {dtype:>8}  {redop:>6}  {root:6d}  {_time_us(t)}  {alg:6.2f}  {bmed:6.2f}"
        if multi:
            row += f"  {bmin:6.2f}  {bmax:6.2f}"
        algos = sorted({x.algorithm for x in ln.results})
        row += f"  {'/'.join(algos)}"
        if compute_s is not None:
            row += f"  {100 * t / (compute_s + t):6.2f}"
        out.append(row)
    return "\n".join(out)


def tier_summary(r: CollectiveResult) -> list[tuple[str, int, float, float, float, int]]:
    """(tier-direction, resources, mean %, p99 %, max %, >= 90 %) over resources that carried bytes."""
    u = r.link_utilization()
    tiers = r.net.resource_tier
    used_cap = r.net.cap > 0
    rows = []
    for tier in sorted(set(tiers.tolist())):
        m = (tiers == tier) & used_cap
        if not m.any():
            continue
        v = u[m] * 100
        rows.append((tier, int(m.sum()), float(v.mean()), float(np.percentile(v, 99)), float(v.max()), int((v >= 90).sum())))
    return rows


def busiest(r: CollectiveResult, n: int = 10) -> list[tuple[str, float]]:
    u = r.link_utilization()
    fabric_dirs = np.arange(2 * r.net.n_links)
    order = fabric_dirs[np.lexsort((fabric_dirs, -u[fabric_dirs]))][:n]
    return [(r.net.resource_name(int(i)), float(u[i] * 100)) for i in order if u[i] > 0]


def link_load_text(r: CollectiveResult) -> str:
    lines = [
        f"# link load while bytes move ({r.bandwidth_s * 1e6:.1f} us at {r.size_bytes} B), % of usable capacity",
        f"# {'links (direction)':<20} {'count':>7} {'mean':>7} {'p99':>7} {'max':>7} {'>=90%':>7}",
    ]
    for tier, cnt, mean, p99, mx, hot in tier_summary(r):
        lines.append(f"  {tier:<20} {cnt:7d} {mean:7.1f} {p99:7.1f} {mx:7.1f} {hot:7d}")
    lines.append("# busiest link directions")
    for name, pct in busiest(r):
        lines.append(f"  {pct:6.1f}%  {name}")
    return "\n".join(lines)


def _uplink_matrix(r: CollectiveResult, kind: str, lower_role: str):
    """Utilization of each lower device's uplinks of `kind`: rows = devices, cols = uplink index;
    two matrices: towards the upper tier (a -> b) and back down (b -> a)."""
    f = r.net.fabric
    L = f.links
    rows = np.flatnonzero(L["kind"] == kind)
    if not len(rows):
        return None
    u = r.link_utilization()
    lower = L["a"][rows]
    devs = np.unique(lower)
    pos = np.searchsorted(devs, lower)
    o = np.lexsort((rows, pos))
    rows, pos = rows[o], pos[o]
    col = np.arange(len(rows)) - np.searchsorted(pos, pos)
    width = int(col.max()) + 1
    up = np.full((len(devs), width), np.nan)
    down = np.full((len(devs), width), np.nan)
    up[pos, col] = u[2 * rows] * 100
    down[pos, col] = u[2 * rows + 1] * 100
    names = f.devices["name"][devs].tolist()
    return names, up, down


def heatmap_svg(r: CollectiveResult, title: str) -> str:
    """Per-link load heat map: for each tier, every lower switch's uplinks, up and down."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "tokenfab"
    panels = []
    for kind, role in (("leaf-spine", "leaf"), ("spine-core", "spine")):
        m = _uplink_matrix(r, kind, role)
        if m is not None:
            panels.append((kind, *m))
    if not panels:  # single-tier (rail-only leaves): show NIC links per leaf
        m = _nic_matrix(r)
        panels.append(("nic", *m))
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.2 * len(panels) + 0.8), squeeze=False)
    for i, (kind, names, up, down) in enumerate(panels):
        for j, (mat, label) in enumerate(((up, "up"), (down, "down"))):
            ax = axes[i][j]
            im = ax.imshow(mat, aspect="auto", interpolation="nearest", cmap="inferno", vmin=0, vmax=100)
            ax.set_title(f"{kind} links, {label}", fontsize=9)
            ax.set_xlabel("uplink (port order)", fontsize=8)
            step = max(1, len(names) // 16)
            ax.set_yticks(range(0, len(names), step))
            ax.set_yticklabels(names[::step], fontsize=6)
            ax.tick_params(axis="x", labelsize=6)
            fig.colorbar(im, ax=ax, label="load (% of capacity)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _nic_matrix(r: CollectiveResult):
    net = r.net
    S, R, P = net.nic_link.shape
    u = r.link_utilization()
    rows = net.nic_link.reshape(S, R * P)
    up = np.where(rows >= 0, u[2 * np.maximum(rows, 0)] * 100, np.nan)
    down = np.where(rows >= 0, u[2 * np.maximum(rows, 0) + 1] * 100, np.nan)
    return [net.server_label(i) for i in range(S)], up, down
