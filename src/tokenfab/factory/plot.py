"""Timeline of GPU utilisation and facility power (matplotlib, deterministic SVG)."""

from __future__ import annotations

import io

import numpy as np


def utilization_svg(run, title: str | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "tokenfab"
    n = run.cluster.n_gpus
    E = run.epochs
    t = np.array([e.t0_s for e in E] + [E[-1].t1_s if E else 0.0]) / 3600.0
    def series(attr):
        return np.array([getattr(e, attr) for e in E], dtype=float)
    alloc = series("allocated_gpus") / n * 100
    busy = series("busy_gpus") / n * 100
    net = series("net_idle_gpus") / n * 100
    other = np.maximum(alloc - busy - net, 0)
    power = series("power_w") / 1e6
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    steps = dict(step="post")
    x = t
    def ext(y):
        return np.append(y, y[-1] if len(y) else 0)
    ax.fill_between(x, 0, ext(busy), color="#2b8a3e", label="computing", **steps)
    ax.fill_between(x, ext(busy), ext(busy + net), color="#e8590c", label="waiting on the network", **steps)
    ax.fill_between(x, ext(busy + net), ext(busy + net + other), color="#ced4da",
                    label="allocated, other idle (bubble, NVLink comm)", **steps)
    ax.set_xlim(0, run.spec.window_h)
    ax.set_ylim(0, 100)
    ax.set_xlabel("hours")
    ax.set_ylabel(f"% of {n:,} GPUs")
    ax2 = ax.twinx()
    ax2.step(x, ext(power), where="post", color="#1c7ed6", linewidth=1.2, label="facility power")
    ax2.set_ylabel("MW")
    ax2.set_ylim(0, max(power.max() * 1.15 if len(power) else 1, 1e-3))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=7, framealpha=0.85)
    ax.set_title(title or f"{run.spec.name}: GPU utilisation ({run.comm_name} network model, {run.spec.scheduler.policy})",
                 fontsize=9)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()
