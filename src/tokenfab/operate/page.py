"""`tokenfab operate report`: one HTML page, a section per finding with plots of its signals around it.

Plots are matplotlib SVGs, deterministic (fixed hash salt, no date), inlined in the page."""

from __future__ import annotations

import html
import io

import numpy as np

from tokenfab.operate.telemetry import Telemetry

SIGNALS = {  # per finding kind: (label, column, rate?, transform)
    "failing-link": [
        ("pre-FEC BER", "pre_fec_ber", False, "log"),
        ("FEC corrected codewords/s", "fec_corrected_codewords", True, "log"),
        ("DOM temperature (C)", "dom_temperature_c", False, ""),
        ("DOM rx power (dBm)", "dom_rx_power_dbm", False, ""),
    ],
    "pfc-storm": [
        ("PFC pauses received /s", "pfc3_rx_pkts", True, "symlog"),
        ("PFC pauses sent /s", "pfc3_tx_pkts", True, "symlog"),
        ("egress Gb/s", "out_octets", True, "gbps"),
    ],
    "hot-spot": [
        ("egress Gb/s", "out_octets", True, "gbps"),
        ("ECN marks /s", "q3_ecn_marked_pkts", True, ""),
        ("queue watermark (MB)", "q3_watermark_bytes", False, "mb"),
    ],
    "bgp-flap": [
        ("BGP sessions established (cumulative)", "bgp_established_transitions", False, "count"),
        ("carrier transitions (cumulative)", "carrier_transitions", False, "count"),
        ("link up", "oper_up", False, ""),
    ],
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "tokenfab"
    matplotlib.rcParams["svg.fonttype"] = "none"
    return plt


def finding_svg(tel: Telemetry, f, truth_s: float | None = None, before_h: float = 8.0, after_h: float = 4.0) -> str:
    plt = _plt()
    idx = tel.ports.index()
    ports = [idx[p] for p in ([f.port] + [q for q in f.ports if q != f.port][:3]) if p in idx]
    link_ports = [i for i in np.flatnonzero(tel.ports.link_id == f.link).tolist() if i not in ports]
    ports = (ports + link_ports)[:4]
    t0, t1 = f.t_s - before_h * 3600, (f.end_s or f.t_s) + after_h * 3600
    if f.predicted_fail_s is not None or truth_s is not None:  # show the failure it announces
        t1 = max(t1, (f.predicted_fail_s or 0.0) + 3600, (truth_s or 0.0) + 3600)
    m = (tel.t_s >= t0) & (tel.t_s <= t1)
    x = tel.t_s[m] / 3600
    sig = SIGNALS[f.kind]
    fig, axes = plt.subplots(len(sig), 1, figsize=(8, 1.9 * len(sig)), sharex=True)
    for ax, (label, col, is_rate, tr) in zip(np.atleast_1d(axes), sig):
        data = tel.rate(col)[m] if is_rate else tel.values[col][m].astype(np.float64)
        for p in ports:
            y = data[:, p]
            if tr == "gbps":
                y = y * 8 / 1e9
            elif tr == "mb":
                y = y / 1e6
            elif tr == "count":
                y = y - np.nanmin(y) if np.isfinite(y).any() else y
            ax.plot(x, y, lw=1, label=tel.ports.name(p))
        if tr == "log":
            ax.set_yscale("log")
        elif tr == "symlog":
            ax.set_yscale("symlog", linthresh=10)
        ax.axvline(f.t_s / 3600, color="tab:red", ls="--", lw=1)
        if truth_s is not None and t0 <= truth_s <= t1:
            ax.axvline(truth_s / 3600, color="black", ls=":", lw=1)
        ax.set_ylabel(label, fontsize=7)
        ax.tick_params(labelsize=7)
    np.atleast_1d(axes)[0].legend(fontsize=6, loc="upper left")
    if f.predicted_fail_s is not None:
        for ax in np.atleast_1d(axes):
            ax.axvline(f.predicted_fail_s / 3600, color="tab:orange", ls="--", lw=1)
    np.atleast_1d(axes)[-1].set_xlabel(
        "hours (red: detected; orange: predicted failure; dotted: the failure or event in the ground truth)", fontsize=7
    )
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def render(tel: Telemetry, findings: list, advice: list | None = None, truth: list | None = None, title: str = "") -> str:
    e = html.escape
    by_link = {}
    for ev in truth or []:
        by_link.setdefault(ev["link"], ev)
    adv = {id(a.finding): a for a in advice or []}
    adv_by_key = {(a.finding.kind, a.finding.link, a.finding.t_s): a for a in advice or []}
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title or 'tokenfab operate')}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}td.n{text-align:right}</style></head><body>",
        f"<h1>{e(title or 'tokenfab operate')}</h1>",
        f"<p>{len(tel.ports)} switch ports, {len(tel.t_s)} samples every {tel.step_s:g} s, {len(findings)} findings.</p>",
    ]
    if tel.warnings:
        parts.append("<h3>Telemetry warnings</h3><ul>" + "".join(f"<li>{e(w)}</li>" for w in tel.warnings) + "</ul>")
    for i, f in enumerate(findings, 1):
        parts.append(f"<h2>{i}. {e(f.kind)}: {e(f.link)}</h2><p>detected at {f.t_s / 3600:.2f} h: {e(f.text)}</p>")
        if f.jobs:
            parts.append(f"<p>jobs: {e(', '.join(f.jobs))}</p>")
        ev = by_link.get(f.link)
        truth_s = ev["at_s"] if ev else None
        a = adv.get(id(f)) or adv_by_key.get((f.kind, f.link, f.t_s))
        if a is not None:
            parts.append("<table><tr><th>action</th><th>tokens lost</th><th>GPU-hours lost</th><th>$ lost</th><th>what</th></tr>")
            for p in a.actions:
                star = " (best)" if p.action == a.best else ""
                parts.append(
                    f"<tr><td>{e(p.action + star)}</td><td class=n>{p.lost_tokens:,.0f}</td><td class=n>{p.lost_gpu_h:,.1f}</td>"
                    f"<td class=n>{p.lost_usd:,.0f}</td><td>{e(p.text)}"
                    f"{('<br>' + e('; '.join(p.notes))) if p.notes else ''}</td></tr>"
                )
            parts.append("</table>")
        parts.append(finding_svg(tel, f, truth_s))
    parts.append("</body></html>")
    return "\n".join(parts)
