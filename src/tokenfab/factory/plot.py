"""Timeline of GPU utilisation and facility power (matplotlib, deterministic SVG)."""

from __future__ import annotations

import io

import numpy as np

from tokenfab.factory.accounting import COLOURS, Cause


def utilization_svg(run, title: str | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "tokenfab"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, much faster to write
    n = run.cluster.n_gpus
    E = run.epochs
    t = np.array([e.t0_s for e in E] + [E[-1].t1_s if E else 0.0]) / 3600.0

    def series(attr):
        return np.array([getattr(e, attr) for e in E], dtype=float)

    def cause(c: Cause):
        return np.array([e.gpus(c) for e in E], dtype=float)

    alloc = series("allocated_gpus") / n * 100
    busy = cause(Cause.COMPUTING) / n * 100
    net = cause(Cause.NETWORK) / n * 100
    other = np.maximum(alloc - busy - net, 0)
    power = series("power_w") / 1e6
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    steps = dict(step="post")
    x = t

    def ext(y):
        return np.append(y, y[-1] if len(y) else 0)

    ax.fill_between(x, 0, ext(busy), color=COLOURS[Cause.COMPUTING], label="computing", **steps)
    ax.fill_between(x, ext(busy), ext(busy + net), color=COLOURS[Cause.NETWORK], label="waiting on the network", **steps)
    ax.fill_between(
        x, ext(busy + net), ext(busy + net + other), color="#ced4da", label="allocated, other idle (bubble, NVLink comm)", **steps
    )
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
    ax.set_title(
        title or f"{run.spec.name}: GPU utilisation ({run.comm_name} network model, {run.spec.scheduler.policy})", fontsize=9
    )
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


# -- the seven layers ------------------------------------------------------------------------------
TENANT_COLORS = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d", "#495057", "#6741d9"]


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "tokenfab"
    matplotlib.rcParams["svg.fonttype"] = "none"
    return plt


def gpu_time_svg(run) -> str:
    """Every GPU of the factory over the window, stacked by what it was doing."""
    plt = _plt()
    n = run.cluster.n_gpus
    E = run.epochs
    t = np.array([e.t0_s for e in E] + [E[-1].t1_s if E else 0.0]) / 3600.0

    # every cause but unallocated (the blank above the stack)
    parts = {c: np.array([e.gpus(c) for e in E], dtype=float) / n * 100 for c in Cause if c is not Cause.UNALLOCATED}
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    base = np.zeros(len(E))

    def ext(y):
        return np.append(y, y[-1] if len(y) else 0)

    for c, y in parts.items():
        if not y.any():
            continue
        ax.fill_between(t, ext(base), ext(base + y), step="post", color=COLOURS[c], label=c.label.replace("_", " "), linewidth=0)
        base = base + y
    ax.set_xlim(0, run.spec.window_h)
    ax.set_ylim(0, 100)
    ax.set_xlabel("hours")
    ax.set_ylabel(f"% of {n:,} GPUs")
    if ax.get_legend_handles_labels()[0]:  # a window with no GPU time has nothing to label
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85, ncol=2)
    ax.set_title(f"{run.spec.name}: GPU time by cause (the rest is unallocated)", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def data_flow_svg(run) -> str:
    """Per pipeline: bytes arriving, stored and dropped per second, and its buffer."""
    plt = _plt()
    P = run.data.pipelines
    fig, axes = plt.subplots(len(P), 1, figsize=(9, 2.4 * len(P)), dpi=100, squeeze=False)
    for ax, p in zip(axes[:, 0], P):
        S = np.array(p.series) if p.series else np.zeros((0, 6))
        if not len(S):
            continue
        t = np.append(S[:, 0], S[-1, 1]) / 3600
        dt = np.maximum(S[:, 1] - S[:, 0], 1e-9)

        def ext(y):
            return np.append(y, y[-1])

        ax.step(t, ext(S[:, 2] / dt / 1e6), where="post", color="#1c7ed6", label="arriving MB/s")
        ax.step(t, ext(S[:, 3] / dt / 1e6), where="post", color="#2b8a3e", label="stored MB/s")
        if S[:, 4].any():
            ax.step(t, ext(S[:, 4] / dt / 1e6), where="post", color="#c92a2a", label="dropped MB/s")
        ax.set_ylabel("MB/s")
        ax.set_xlim(0, run.spec.window_h)
        ax2 = ax.twinx()
        ax2.step(t, ext(S[:, 5] / 1e9), where="post", color="#868e96", linestyle=":", label="pending GB")
        ax2.set_ylabel("pending GB")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=7, framealpha=0.85)
        ax.set_title(
            f"pipeline {p.spec.name} ({p.spec.tenant}) -> dataset {p.spec.output.dataset} on {p.spec.output.tier}", fontsize=9
        )
    axes[-1, 0].set_xlabel("hours")
    fig.tight_layout()
    return _svg(fig)


def services_svg(run) -> str:
    """Per service: requests arriving and served, SLO attainment, replicas."""
    plt = _plt()
    S = run.services
    fig, axes = plt.subplots(len(S), 1, figsize=(9, 2.4 * len(S)), dpi=100, squeeze=False)
    for ax, s in zip(axes[:, 0], S):
        rows = _per_tick(s.series, run.spec.tick_min / 60.0)
        if not rows:
            continue
        t0 = np.array([r["t0_h"] for r in rows])
        t = np.append(t0, rows[-1]["t1_h"])
        dt = np.maximum((np.array([r["t1_h"] for r in rows]) - t0) * 3600, 1e-9)

        def ext(y):
            return np.append(y, y[-1])

        arr = np.array([r["arrived"] for r in rows]) / dt
        srv = np.array([r["served"] for r in rows]) / dt
        res = np.array([r["served"] + r["abandoned"] for r in rows])
        att = np.where(res > 0, np.array([r["attained"] for r in rows]) / np.maximum(res, 1e-12) * 100, np.nan)
        ax.step(t, ext(arr), where="post", color="#1c7ed6", label="arriving req/s")
        ax.step(t, ext(srv), where="post", color="#2b8a3e", label="served req/s")
        ax.set_ylabel("req/s")
        ax.set_xlim(0, run.spec.window_h)
        ax2 = ax.twinx()
        ax2.step(t, ext(att), where="post", color="#e8590c", label="SLO attainment %")
        reps = np.array([r["replicas"] for r in rows], dtype=float)
        ax2.step(
            t,
            ext(reps * 100 / max(s.spec.replicas.max, 1)),
            where="post",
            color="#868e96",
            linestyle=":",
            label=f"replicas (100% = {s.spec.replicas.max})",
        )
        ax2.set_ylim(0, 105)
        ax2.set_ylabel("%")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=7, framealpha=0.85)
        ax.set_title(
            f"service {s.name} ({s.spec.tenant}, {s.infer.model}): SLO TTFT {s.spec.slo.ttft_s:g} s, "
            f"TPOT {s.spec.slo.tpot_s * 1e3:g} ms",
            fontsize=9,
        )
    axes[-1, 0].set_xlabel("hours")
    fig.tight_layout()
    return _svg(fig)


def _per_tick(rows: list[dict], tick_h: float) -> list[dict]:
    """Service rows merged per tick, so a very short epoch does not draw a spike."""
    out: dict[int, dict] = {}
    for r in rows:
        k = int(np.floor(r["t0_h"] / tick_h + 1e-9))
        m = out.get(k)
        if m is None:
            out[k] = dict(r)
            continue
        for key in ("arrived", "served", "abandoned", "rejected", "attained"):
            m[key] += r[key]
        m["t1_h"] = r["t1_h"]
        m["replicas"] = max(m["replicas"], r["replicas"])
    return [out[k] for k in sorted(out)]


def timeline_svg(run) -> str:
    """Jobs, lifecycle stages and service replicas per tenant as bars; failures and faults marked."""
    plt = _plt()
    rows: list[tuple[str, str, list[tuple[float, float]], str]] = []  # (label, tenant, spans, kind)
    tenants = sorted({j.tenant for j in run.jobs})
    W = run.spec.window_h
    for j in sorted(run.jobs, key=lambda j: (j.tenant, j.service or j.lifecycle or j.name, j.req.order)):
        spans = [(a / 3600, (b if b is not None else run.spec.window_s) / 3600) for a, b, _ in j.history]
        if not spans:
            continue
        label = j.service if j.stage == "replica" else j.name
        rows.append((label, j.tenant, spans, j.stage))
    # merge replicas of one service into one row
    merged: dict[tuple[str, str], list] = {}
    order: list[tuple[str, str]] = []
    for label, tenant, spans, kind in rows:
        key = (tenant, label)
        if key not in merged:
            merged[key] = [kind, []]
            order.append(key)
        merged[key][1].extend(spans)
    h = max(2.0, 0.28 * len(order) + 1.0)
    fig, ax = plt.subplots(figsize=(9, h), dpi=100)
    for y, key in enumerate(order):
        kind, spans = merged[key]
        color = TENANT_COLORS[tenants.index(key[0]) % len(TENANT_COLORS)]
        alpha = 0.35 if kind == "replica" else 0.85
        ax.broken_barh(
            [(a, max(b - a, W / 2000)) for a, b in spans], (y - 0.35, 0.7), facecolors=color, alpha=alpha, edgecolor="none"
        )
    for e in run.events:
        if e["kind"] == "failure":
            ax.axvline(e["t_h"], color="#c92a2a", linewidth=0.8, linestyle="--")
        elif e["kind"] == "lifecycle" and "deployed" in e["text"]:
            ax.plot([e["t_h"]], [-0.8], marker="^", color="#2b8a3e", markersize=5)
    for _i, f in enumerate(run.spec.faults):
        a = f.at_h
        b = f.up_h if f.up_h is not None else W
        ax.axvspan(a, min(b, W), color="#e8590c", alpha=0.06)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{t}: {lbl}" for t, lbl in order], fontsize=7)
    ax.set_ylim(len(order) - 0.5, -1.2)
    ax.set_xlim(0, W)
    ax.set_xlabel("hours (dashed red: failures; green triangles: deployments; orange shade: faults in force)")
    ax.set_title(f"{run.spec.name}: timeline (solid: jobs and lifecycle stages; light: service replicas)", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def comparison_svg(summaries: list[dict]) -> str:
    """Variants side by side: tokens, inference tokens, SLO attainment, GPU-h waiting on the network."""
    plt = _plt()
    names = [s["factory"] for s in summaries]
    T = [s["totals"] for s in summaries]
    metrics = [
        ("tokens", "tokens (training + output)"),
        ("inference_output_tokens", "inference output tokens"),
        ("slo_attainment_pct", "SLO attainment %"),
        ("gpu_h_network", "GPU-h waiting on the network"),
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(10, 2.8), dpi=100)
    x = np.arange(len(names))
    for ax, (k, title) in zip(axes, metrics):
        vals = [t.get(k) or 0.0 for t in T]
        ax.bar(x, vals, color=[TENANT_COLORS[i % len(TENANT_COLORS)] for i in range(len(names))])
        ax.set_xticks(x)
        ax.set_xticklabels(names, fontsize=7, rotation=20)
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return _svg(fig)
