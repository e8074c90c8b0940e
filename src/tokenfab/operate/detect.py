"""Detectors over telemetry: links about to fail, PFC storms, congestion hot spots, BGP flaps.

Each takes a `Telemetry` (and, where it attributes, the jobs' link map from loads.py) and returns
`Finding`s; none raises on gaps or NaN (a port without data is simply not judged). The method of
each is in its docstring; thresholds are arguments with the defaults used by the benchmark
(benchmarks/operate_detect.py prints their precision, recall, lead time and false-alarm rate).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from tokenfab.operate.counters import FEC_BER_LIMIT
from tokenfab.operate.scenario import LOSS_OF_LOCK_LOG10_BER
from tokenfab.operate.telemetry import Telemetry

KIND_OF_EVENT = {
    "aging": "failing-link",
    "flap": "bgp-flap",
    "bgp-flap": "bgp-flap",
    "pfc-storm": "pfc-storm",
    "hot-spot": "hot-spot",
}


@dataclass
class Finding:
    kind: str  # failing-link | pfc-storm | hot-spot | bgp-flap
    link: str  # link id
    port: str  # the port it was seen on (a storm: the port it started at)
    t_s: float  # when it was detected
    text: str
    predicted_fail_s: float | None = None  # failing links: projected loss of lock
    end_s: float | None = None  # storms, hot spots, flaps: last sample still in the episode
    jobs: list[str] = field(default_factory=list)  # jobs it reached / jobs causing it (largest share first)
    ports: list[str] = field(default_factory=list)  # ports involved (storm propagation)
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-d mask."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def failing_links(
    tel: Telemetry,
    *,
    window_h: float = 3.0,
    every_min: float = 10.0,
    horizon_h: float = 24.0,
    min_t: float = 8.0,
    min_rise_decades: float = 0.8,
    min_rx_drop_db: float = 0.15,
    strong_rise_decades: float = 2.5,
    confirm: int = 2,
) -> list[Finding]:
    """Links about to fail, from the trend of their pre-FEC BER.

    Method: every `every_min`, an ordinary least-squares line through log10(pre-FEC BER) over the
    last `window_h` of each port (all ports at once, from running sums); a port is suspect when the
    slope is significant (t statistic >= `min_t`, scipy's Student t for the p-value shown), the fitted
    level has risen `min_rise_decades` above the port's own baseline (its median over the first
    window) and the line reaches the 802.3 KP4 FEC limit (2.4e-4) within `horizon_h`. Because a
    healthy link's BER wanders with temperature (and an OLS t statistic overstates a random walk's
    trend), the optic must confirm it: receive power down at least `min_rx_drop_db` over the window
    (a fading far-end transmitter), unless the BER has risen `strong_rise_decades` above its
    baseline. `confirm` consecutive suspect evaluations raise the finding. The projected loss of
    lock (BER 1e-2) is its predicted failure time (from a quadratic fit when the rise accelerates).
    DOM changes over the window (temperature, transmit and receive power) are attached as evidence.
    Uncorrectable codewords alone, without a trend, are not a prediction and not used.
    """
    t = tel.t_s
    T, P = tel.values["pre_fec_ber"].shape
    if T < 4:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log10(tel.values["pre_fec_ber"])
    ok = np.isfinite(y)
    x = (t - t[0]) / 3600.0
    X = np.where(ok, x[:, None], 0.0)
    Y = np.where(ok, y, 0.0)
    cs = [np.vstack([np.zeros((1, P)), np.cumsum(a, axis=0)]) for a in (ok.astype(np.float64), X, Y, X * X, X * Y, Y * Y)]
    step = max(float(np.median(np.diff(t))), 1.0)
    W = max(4, int(round(window_h * 3600 / step)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmedian(np.where(ok[:W], y[:W], np.nan), axis=0)
    evals = np.arange(W, T + 1, max(1, int(round(every_min * 60 / step))))
    streak = np.zeros(P, int)
    found: dict[int, Finding] = {}
    limit = np.log10(FEC_BER_LIMIT)
    for k in evals:
        n, sx, sy, sxx, sxy, syy = (c[k] - c[k - W] for c in cs)
        with np.errstate(divide="ignore", invalid="ignore"):
            vx = sxx - sx * sx / n
            b = (sxy - sx * sy / n) / vx
            a = (sy - b * sx) / n
            rss = np.maximum(syy - a * sy - b * sxy, 0.0)
            se = np.sqrt(rss / np.maximum(n - 2, 1) / vx)
            tstat = b / se
            x_end = x[k - 1]
            level = a + b * x_end
            to_limit_h = np.where(level >= limit, 0.0, (limit - level) / b)
        suspect = (n >= W * 0.6) & (b > 0) & (tstat >= min_t) & (level - base >= min_rise_decades) & (to_limit_h <= horizon_h)
        suspect &= np.isfinite(tstat)
        # a BER trend alone is not enough - healthy links' BER wanders with temperature: the optic must
        # show it too (receive power down), unless the BER itself has climbed far
        for p in np.flatnonzero(suspect):
            if level[p] - base[p] >= strong_rise_decades:
                continue
            dom = _dom_change(tel, int(p), k - W, k)
            if not dom.get("rx_power_change_db", 0.0) <= -min_rx_drop_db:
                suspect[p] = False
        streak = np.where(suspect, streak + 1, 0)
        for p in np.flatnonzero(streak >= confirm):
            p = int(p)
            link = str(tel.ports.link_id[p])
            if any(f.link == link for f in found.values()):
                continue
            t_now = float(t[k - 1])
            to_lol_h = _hours_to(LOSS_OF_LOCK_LOG10_BER, x[k - W : k], y[k - W : k, p], float(level[p]), float(b[p]))
            pval = float(stats.t.sf(tstat[p], max(n[p] - 2, 1)))
            ev = {
                "slope_decades_per_h": round(float(b[p]), 4),
                "t_statistic": round(float(tstat[p]), 1),
                "p_value": pval,
                "pre_fec_ber_now": float(10 ** level[p]),
                "pre_fec_ber_baseline": float(10 ** base[p]),
                "hours_to_fec_limit": round(float(to_limit_h[p]), 2),
                "hours_to_loss_of_lock": round(float(to_lol_h), 2),
            }
            ev.update(_dom_change(tel, p, k - W, k))
            found[p] = Finding(
                "failing-link",
                link,
                tel.ports.name(p),
                t_now,
                f"pre-FEC BER on {tel.ports.name(p)} rising {b[p]:.2f} decades/h "
                f"({10 ** base[p]:.1e} -> {10 ** level[p]:.1e}); FEC limit in {to_limit_h[p]:.1f} h, "
                f"loss of lock in ~{to_lol_h:.1f} h",
                predicted_fail_s=t_now + to_lol_h * 3600.0,
                evidence=ev,
            )
    return sorted(found.values(), key=lambda f: (f.t_s, f.link))


def _hours_to(target: float, x: np.ndarray, y: np.ndarray, level: float, slope: float) -> float:
    """Hours until log10 BER reaches `target`: from a quadratic fit when the rise accelerates (aging
    lasers fade faster as they go), else the straight line."""
    m = np.isfinite(y)
    linear = max(0.0, (target - level) / slope)
    if m.sum() < 8:
        return linear
    c2, c1, c0 = np.polyfit(x[m] - x[m][-1], y[m], 2)
    if c2 <= 0:
        return linear
    disc = c1 * c1 - 4 * c2 * (c0 - target)
    if disc < 0:
        return linear
    root = (-c1 + np.sqrt(disc)) / (2 * c2)
    return float(min(linear, max(0.0, root)))


def _dom_change(tel: Telemetry, p: int, k0: int, k1: int) -> dict:
    """DOM readings over the window on the port and on its peer (the far optic's transmitter)."""
    out = {}
    peer = tel.ports.index().get(f"{tel.ports.peer[p]}:{tel.ports.peer_port[p]}")
    for name, col, q in (
        ("rx_power_change_db", "dom_rx_power_dbm", p),
        ("peer_temperature_change_c", "dom_temperature_c", peer),
        ("peer_tx_power_change_db", "dom_tx_power_dbm", peer),
    ):
        if q is None:
            continue
        v = tel.values[col][k0:k1, q]
        v = v[np.isfinite(v)]
        if len(v) >= 4:
            h = max(1, len(v) // 4)
            out[name] = round(float(np.mean(v[-h:]) - np.mean(v[:h])), 2)
    return out


def pfc_storms(
    tel: Telemetry,
    job_links: dict[str, dict[str, float]] | None = None,
    *,
    storm_pauses_per_s: float = 1e4,
    spread_pauses_per_s: float = 1e3,
    stall_share: float = 0.01,
    min_samples: int = 2,
) -> list[Finding]:
    """PFC storms, the port each started at, how far the pauses spread and which jobs they reached.

    Method (the PFC watchdog's rule, at the sampling interval): a port is stormed while it receives
    priority-3 pauses above `storm_pauses_per_s` and its egress moves under `stall_share` of line rate,
    for `min_samples` samples, or when its PFC watchdog counts a deadlock. The episode's spread is
    every port receiving pauses above `spread_pauses_per_s` (and 20x its own median) during it, with
    the ports sending them. Root: a paused port whose peer is not itself being paused, i.e. the
    pausing does not come from further downstream (a stuck NIC behind a leaf port). Jobs reached:
    those whose flows (the simulator's flow-to-link map) cross a paused link.
    """
    rx = tel.rate("pfc3_rx_pkts")
    tx = tel.rate("pfc3_tx_pkts")
    out_bytes_per_s = tel.rate("out_octets")
    wd = tel.rate("pfcwd_deadlock_detected")
    line_bytes_per_s = tel.ports.speed_gbps * 1e9 / 8
    with np.errstate(invalid="ignore"):
        stalled = np.nan_to_num(out_bytes_per_s, nan=0.0) < stall_share * line_bytes_per_s[None, :]
        storm = (np.nan_to_num(rx) >= storm_pauses_per_s) & stalled
        storm |= np.nan_to_num(wd) > 0
        with warnings.catch_warnings():  # a port with no data at all has no median: NaN, then 0
            warnings.simplefilter("ignore", RuntimeWarning)
            base_rx = np.nanmedian(rx, axis=0)
            base_tx = np.nanmedian(tx, axis=0)
    base_rx = np.nan_to_num(base_rx)
    base_tx = np.nan_to_num(base_tx)
    runs = []
    for p in np.flatnonzero(storm.any(axis=0)):
        for k0, k1 in _runs(storm[:, p]):
            if k1 - k0 >= min_samples or np.nan_to_num(wd[k0:k1, p]).any():
                runs.append((k0, k1, int(p)))
    # one storm is every stormed port overlapping in time (pauses spread within a sample)
    episodes: list[list] = []
    for k0, k1, p in sorted(runs):
        if episodes and k0 <= episodes[-1][1]:
            episodes[-1][1] = max(episodes[-1][1], k1)
            episodes[-1][2].append(p)
        else:
            episodes.append([k0, k1, [p]])
    out: list[Finding] = []
    for k0, k1, stormed in episodes:
        seg_rx = np.nan_to_num(rx[k0:k1])
        seg_tx = np.nan_to_num(tx[k0:k1])
        paused_rx = np.flatnonzero(((seg_rx >= spread_pauses_per_s) & (seg_rx >= 20 * base_rx + 1)).mean(axis=0) >= 0.5)
        paused_tx = np.flatnonzero(((seg_tx >= spread_pauses_per_s) & (seg_tx >= 20 * base_tx + 1)).mean(axis=0) >= 0.5)
        paused_devices = {str(tel.ports.device[q]) for q in paused_rx}
        roots = [int(q) for q in set(paused_rx.tolist()) | set(stormed) if str(tel.ports.peer[q]) not in paused_devices]
        cands = [q for q in roots if q in stormed] or roots or stormed
        root = max(cands, key=lambda q: (seg_rx[:, q].mean(), -q))
        involved = sorted(set(paused_rx.tolist()) | set(paused_tx.tolist()) | set(stormed) | {root})
        links = {str(tel.ports.link_id[q]) for q in involved}
        jobs = sorted({j for j, ls in (job_links or {}).items() if links & set(ls)})
        t0 = float(tel.t_s[min(k0 + min_samples - 1, len(tel.t_s) - 1)])
        out.append(
            Finding(
                "pfc-storm",
                str(tel.ports.link_id[root]),
                tel.ports.name(root),
                t0,
                f"PFC storm from {tel.ports.name(root)} (peer {tel.ports.peer[root]} pausing "
                f"{seg_rx[:, root].mean():,.0f}/s, egress stalled); pauses on {len(involved)} ports"
                + (f"; jobs reached: {', '.join(jobs)}" if jobs else ""),
                end_s=float(tel.t_s[k1 - 1]),
                jobs=jobs,
                ports=[tel.ports.name(q) for q in involved],
                evidence={
                    "pauses_per_s_at_root": round(float(seg_rx[:, root].mean()), 1),
                    "ports_paused": len(involved),
                    "minutes": round((k1 - k0) * tel.step_s / 60, 1),
                },
            )
        )
    return out


def hot_spots(
    tel: Telemetry, job_links: dict[str, dict[str, float]] | None = None, *, util_min: float = 0.9, min_minutes: float = 30.0
) -> list[Finding]:
    """Persistent congestion hot spots and the jobs whose flows cause them.

    Method: a link direction is hot while its utilisation (octet rate / line rate) is at least
    `util_min` and its lossless queue ECN-marks packets; a run of hot samples lasting `min_minutes`
    is a finding (transient incast bursts are not). Attribution: the jobs whose flows cross the
    link in the simulator's flow-to-link map, largest share of the link first.
    """
    line_bytes_per_s = tel.ports.speed_gbps * 1e9 / 8
    util = np.nan_to_num(tel.rate("out_octets")) / line_bytes_per_s[None, :]
    ecn = np.nan_to_num(tel.rate("q3_ecn_marked_pkts"))
    hot = (util >= util_min) & (ecn > 0)
    need = max(1, int(round(min_minutes * 60 / tel.step_s)))
    out: dict[str, Finding] = {}
    for p in np.flatnonzero(hot.sum(axis=0) >= need):
        for k0, k1 in _runs(hot[:, p]):
            if k1 - k0 < need:
                continue
            link = str(tel.ports.link_id[p])
            shares = {j: ls[link] for j, ls in (job_links or {}).items() if link in ls}
            jobs = sorted(shares, key=lambda j: (-shares[j], j))
            f = Finding(
                "hot-spot",
                link,
                tel.ports.name(int(p)),
                float(tel.t_s[k0 + need - 1]),
                f"{tel.ports.name(int(p))} at {util[k0:k1, p].mean():.0%} for {(k1 - k0) * tel.step_s / 60:.0f} min "
                f"with ECN marking" + (f"; flows of {', '.join(jobs)}" if jobs else "; no known job's flows cross it"),
                end_s=float(tel.t_s[k1 - 1]),
                jobs=jobs,
                evidence={
                    "mean_utilization": round(float(util[k0:k1, p].mean()), 3),
                    "ecn_marks_per_s": round(float(ecn[k0:k1, p].mean()), 1),
                    "job_shares": {j: shares[j] for j in jobs},
                },
            )
            key = f"{link}@{k0}"
            out.setdefault(key, f)
    return sorted(out.values(), key=lambda f: (f.t_s, f.link))


def bgp_flaps(tel: Telemetry, *, min_transitions: int = 2, window_min: float = 30.0) -> list[Finding]:
    """Links and BGP sessions that flap.

    Method: per link, BGP sessions re-established (established-transitions) plus half the carrier
    transitions (a bounce is two) per sample, summed over a sliding `window_min`; `min_transitions`
    or more in a window is a flap episode (one finding until the link is quiet for a window). A
    link that goes down once and stays down is a failure, not a flap.
    """
    bgp = np.nan_to_num(tel.rate("bgp_established_transitions")) * tel.step_s
    car = np.nan_to_num(tel.rate("carrier_transitions")) * tel.step_s / 2
    ev = np.round(np.maximum(bgp, car))
    links = tel.ports.link_id
    W = max(1, int(round(window_min * 60 / tel.step_s)))
    cs = np.vstack([np.zeros((1, ev.shape[1])), np.cumsum(ev, axis=0)])
    k = np.arange(len(ev))
    win = cs[k + 1] - cs[np.maximum(0, k + 1 - W)]  # transitions in the window ending at each sample
    out: dict[str, Finding] = {}
    for p in np.flatnonzero((win >= min_transitions).any(axis=0)):
        link = str(links[p])
        for k0, k1 in _runs(win[:, p] >= min_transitions):
            if link in out and out[link].end_s is not None and tel.t_s[k0] <= out[link].end_s + window_min * 60:
                out[link].end_s = float(tel.t_s[min(k1, len(tel.t_s) - 1)])
                continue
            if link in out:
                continue
            n = int(ev[max(0, k0 - W + 1) : k1, p].sum())
            out[link] = Finding(
                "bgp-flap",
                link,
                tel.ports.name(int(p)),
                float(tel.t_s[k0]),
                f"{link}: {n} session resets in {window_min:.0f} min"
                + (" with carrier transitions" if car[max(0, k0 - W + 1) : k1, p].sum() else " (link stayed up)"),
                end_s=float(tel.t_s[min(k1, len(tel.t_s) - 1)]),
                evidence={"transitions": n, "carrier": bool(car[max(0, k0 - W + 1) : k1, p].sum())},
            )
    return sorted(out.values(), key=lambda f: (f.t_s, f.link))


def jobs_on_link(job_links: dict[str, dict[str, float]] | None, link: str) -> list[str]:
    """Jobs whose flows cross a link, largest share first."""
    shares = {j: ls[link] for j, ls in (job_links or {}).items() if link in ls}
    return sorted(shares, key=lambda j: (-shares[j], j))


def detect_all(tel: Telemetry, job_links: dict[str, dict[str, float]] | None = None) -> list[Finding]:
    """Every detector with its defaults, findings in time order; failing links and flaps name the
    jobs whose flows cross them (the ones an outage would hit)."""
    out = failing_links(tel) + pfc_storms(tel, job_links) + hot_spots(tel, job_links) + bgp_flaps(tel)
    for f in out:
        if f.kind in ("failing-link", "bgp-flap") and not f.jobs:
            f.jobs = jobs_on_link(job_links, f.link)
    return sorted(out, key=lambda f: (f.t_s, f.kind, f.link))
