"""Telemetry of a simulated fabric, with degradations injected and their ground truth recorded.

`generate` turns job loads (loads.py: the simulator's per-link utilisation of each job) into every
column of counters.py for every switch port, sample by sample, all as (samples x ports) arrays:

- octets from the links' loads (+2% noise); ECN marks, queue watermarks and PFC pauses grow with
  utilisation past 80% (DCQCN marks before PFC pauses, as configured);
- the physical layer: pre-FEC BER per port log-normal around 1e-8 (healthy 100G-per-lane PAM4
  links run 1e-9..1e-6), RS(544,514) codewords at line rate, corrected ones ~ Poisson(codewords x
  P(symbol errors >= 1)), uncorrectable ones ~ Poisson(codewords x P(> 15 symbol errors)), each
  one a CRC error; DOM temperature, transmit and receive power with a daily swing and noise.

Degradations (`Event`s, each kept as ground truth):
- `aging` optic: from `onset_s` its transmitter fades: module temperature up ~10 C, transmit power
  down ~3 dB, the far end's receive power follows and its pre-FEC BER climbs (log-linear in time,
  accelerating) to 1e-2, where the link fails at `at_s` (down for the rest of the window);
- `flap`: a link bouncing `count` times from `at_s` (carrier transitions, BGP sessions re-established);
- `bgp-flap`: the BGP session on a link resetting with the link up;
- `pfc-storm`: a stuck receiver (NIC) pausing its leaf port from `at_s` to `end_s`: the port stalls,
  the PFC watchdog fires; pauses propagate two hops back along the flows heading to that server;
- `hot-spot`: a placement that saturates one link direction from `at_s` to `end_s`; congestion the
  jobs' own loads cause (a direction >= 90% for 30 min) is recorded as a hot spot too.

Rates: unplanned link failures follow Llama 3's published rate (arXiv 2407.21783: 419 interruptions
in 54 days on 16,384 GPUs, 8.4% network switches and cables) in `draw_events`; flaps, storms and hot
spots have no public per-link rate, so their rates there are assumptions, stated in RATE_PER_GPU_DAY.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from tokenfab.design.model import Fabric
from tokenfab.operate.counters import FEC_CODEWORD_BITS, FEC_SYMBOL_BITS, FEC_SYMBOLS, FEC_T_SYMBOLS, METRICS
from tokenfab.operate.loads import JobLoad, job_patterns
from tokenfab.operate.telemetry import Ports, Telemetry

KINDS = ("aging", "flap", "bgp-flap", "pfc-storm", "hot-spot")
# events per GPU per day; aging: Llama 3's network share (35 of 419 in 54 days on 16,384 GPUs);
# the others are assumptions (no published per-link rate)
RATE_PER_GPU_DAY = {"aging": 419 * 0.084 / 54 / 16384, "flap": 4e-5, "bgp-flap": 2e-5, "pfc-storm": 2e-5, "hot-spot": 4e-5}
LOSS_OF_LOCK_LOG10_BER = -2.0
PAUSES_PER_S_STUCK = 2.0e5  # XOFF refreshes of a receiver that never drains, per second
HOT_UTIL, HOT_MIN_S = 0.9, 1800.0  # a link direction this loaded for this long is a hot spot


@dataclass(frozen=True)
class Event:
    kind: str  # one of KINDS
    link: str  # link id "a:pa--b:pb" (the NIC link of the stuck server for a storm)
    at_s: float  # failure (aging), first flap, storm or hot-spot start
    onset_s: float | None = None  # aging: when the optic started to fade
    end_s: float | None = None  # storm, hot spot: end
    count: int = 1  # flaps
    jobs: tuple[str, ...] = ()  # ground truth: jobs it reached (filled by generate)
    origin: str = ""  # ground truth: the port it started at (storms, aging: the degrading receiver)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["jobs"] = list(self.jobs)
        return d


@dataclass
class Scenario:
    telemetry: Telemetry
    truth: list[Event]
    jobs: list[JobLoad]
    job_links: dict[str, dict[str, float]]
    meta: dict = field(default_factory=dict)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _poisson(rng, lam):
    return rng.poisson(np.clip(lam, 0, 1e15)).astype(np.uint64)


def p_corrected(ber: np.ndarray) -> np.ndarray:
    """Share of codewords with at least one symbol error."""
    ps = 1.0 - (1.0 - np.minimum(ber, 0.5)) ** FEC_SYMBOL_BITS
    return 1.0 - (1.0 - ps) ** FEC_SYMBOLS


def p_uncorrectable(ber: np.ndarray) -> np.ndarray:
    """Share of codewords with more than 15 symbol errors (binomial tail; below BER 1e-6 it is under
    1e-40, so only the rest is computed)."""
    out = np.zeros(np.shape(ber))
    m = ber > 1e-6
    if m.any():
        ps = 1.0 - (1.0 - np.minimum(ber[m], 0.5)) ** FEC_SYMBOL_BITS
        out[m] = stats.binom.sf(FEC_T_SYMBOLS, FEC_SYMBOLS, ps)
    return out


def generate(
    fabric: Fabric,
    jobs: list[JobLoad],
    events: list[Event],
    *,
    hours: float = 24.0,
    step_s: float = 60.0,
    seed: int = 0,
    start_s: float = 0.0,
    routing: str = "ecmp",
    patterns: np.ndarray | None = None,
    wander_share: float = 0.0,
) -> Scenario:
    """`wander_share` of the ports are healthy but restless: their BER drifts as a random walk
    (0.02 decades per minute) and swings half a decade with the day's temperature - traps for the
    trend detector, as real links whose BER follows the room's temperature are."""
    rng = np.random.default_rng(seed)
    ports = Ports.of(fabric)
    P = len(ports)
    t = start_s + np.arange(int(round(hours * 3600 / step_s)) + 1) * step_s
    T = len(t)
    n_links = len(fabric.links)
    if patterns is None:
        patterns = job_patterns(fabric, jobs, routing, seed)
    # port directions: out = a->b for the a end (2i), b->a for the b end (2i+1); in is the other one
    out_dir = 2 * ports.link + (~ports.is_a)
    in_dir = 2 * ports.link + ports.is_a
    # load per link direction over time
    active = np.array([(t >= j.start_s) & (t < j.end_s) for j in jobs]).reshape(len(jobs), T).astype(np.float64)
    duty = np.array([j.duty for j in jobs]) if jobs else np.zeros(0)
    load = (active * duty[:, None]).T @ patterns if jobs else np.zeros((T, 2 * n_links))  # (T, 2L)
    load *= rng.normal(1.0, 0.02, size=load.shape).clip(0.9, 1.1)
    load = np.clip(load, 0.0, 1.0)
    up = np.ones((T, n_links), bool)
    bgp_up = np.ones((T, n_links), bool)
    carrier = np.zeros((T, n_links))  # transitions per sample
    bgp_trans = np.zeros((T, n_links))
    link_row = {lid: r for r, lid in zip(ports.link.tolist(), ports.link_id.tolist())}
    port_of = ports.index()
    # physical layer per port
    base_log_ber = rng.normal(-8.0, 0.6, P)
    log_ber = base_log_ber[None, :] + rng.normal(0, 0.12, (T, P))
    restless = np.flatnonzero(rng.uniform(size=P) < wander_share) if wander_share > 0 else np.zeros(0, int)
    if len(restless):
        walk = np.cumsum(rng.normal(0, 0.02 * np.sqrt(step_s / 60.0), (T, len(restless))), axis=0)
        swing = 0.5 * np.sin(2 * np.pi * (t - 15 * 3600) / 86400.0)[:, None]
        log_ber[:, restless] += np.clip(walk, -1.5, 1.5) + swing
    temp_base = rng.normal(50.0, 4.0, P)
    day = np.sin(2 * np.pi * (t - 15 * 3600) / 86400.0)[:, None]
    temp = temp_base[None, :] + 1.5 * day + rng.normal(0, 0.3, (T, P))
    tx = rng.normal(1.0, 0.4, P)[None, :] + rng.normal(0, 0.05, (T, P))
    loss_db = rng.normal(1.5, 0.3, P)
    pfc_rx_extra = np.zeros((T, P))
    pfc_tx_extra = np.zeros((T, P))
    wd_detect = np.zeros((T, P))
    wd_restore = np.zeros((T, P))
    stall = np.zeros((T, P), bool)
    truth: list[Event] = []
    pat_links = patterns.reshape(len(jobs), n_links, 2).max(axis=2) if jobs else np.zeros((0, n_links))

    def jobs_on(rows: set[int], at: float, until: float) -> tuple[str, ...]:
        hit = []
        for k, j in enumerate(jobs):
            if j.end_s > at and j.start_s < until and any(pat_links[k, r] > 1e-6 for r in rows):
                hit.append(j.name)
        return tuple(sorted(hit))

    for ev in events:
        if ev.link not in link_row:
            raise ValueError(f"event on unknown link {ev.link!r}")
        r = link_row[ev.link]
        pa = int(np.flatnonzero((ports.link == r) & ports.is_a)[0]) if (ports.is_a[ports.link == r]).any() else None
        pb = int(np.flatnonzero((ports.link == r) & ~ports.is_a)[0])
        if ev.kind == "aging":
            # the a end's optic fades (for a NIC link, the leaf's own optic: the b end)
            tx_p, rx_p = (pa, pb) if pa is not None else (pb, pb)
            onset = ev.onset_s if ev.onset_s is not None else ev.at_s - 24 * 3600
            x = np.clip((t - onset) / max(ev.at_s - onset, 1.0), 0.0, 1.0)
            rise = x**2
            log_ber[:, rx_p] = base_log_ber[rx_p] + (LOSS_OF_LOCK_LOG10_BER - base_log_ber[rx_p]) * rise + rng.normal(0, 0.12, T)
            temp[:, tx_p] += 10.0 * x
            tx[:, tx_p] -= 3.0 * rise
            down = t >= ev.at_s
            up[down, r] = False
            bgp_up[down, r] = False
            if down.any():
                carrier[np.argmax(down), r] += 1
            truth.append(Event(ev.kind, ev.link, ev.at_s, onset, None, 1, jobs_on({r}, ev.at_s, np.inf), ports.name(rx_p)))
        elif ev.kind in ("flap", "bgp-flap"):
            k0 = int(np.searchsorted(t, ev.at_s))
            for i in range(ev.count):
                k = min(T - 1, k0 + 2 * i)  # one bounce every two samples
                bgp_trans[k, r] += 1
                if ev.kind == "flap":
                    carrier[k, r] += 2
                if i % 2 == 0:
                    bgp_up[k, r] = False
                    if ev.kind == "flap":
                        up[k, r] = False
            end = float(t[min(T - 1, k0 + 2 * ev.count)])
            truth.append(Event(ev.kind, ev.link, ev.at_s, None, end, ev.count, jobs_on({r}, ev.at_s, end), ports.name(pb)))
        elif ev.kind == "pfc-storm":
            end = ev.end_s if ev.end_s is not None else ev.at_s + 3600
            on = (t >= ev.at_s) & (t < end)
            origin = pb  # the leaf's port facing the stuck NIC
            pfc_rx_extra[on, origin] += PAUSES_PER_S_STUCK
            stall[on, origin] = True
            k0 = int(np.argmax(on)) if on.any() else T - 1
            wd_detect[k0, origin] += 1
            k1 = int(np.searchsorted(t, end))
            if k1 < T:
                wd_restore[k1, origin] += 1
            # jobs with GPUs behind the stuck NIC, and the links they use
            srv = fabric.link(r).a
            gps = fabric.intent.cluster.gpus_per_server
            servers = _servers(fabric)
            s_idx = servers.index(srv) if srv in servers else -1
            victims = [
                k
                for k, j in enumerate(jobs)
                if gps and s_idx >= 0 and np.any(np.asarray(j.gpus) // gps == s_idx) and j.end_s > ev.at_s and j.start_s < end
            ]
            used = set(np.flatnonzero(pat_links[victims].max(axis=0) > 1e-6).tolist()) if victims else set()
            leaf = ports.device[origin]
            hop1 = [p for p in range(P) if ports.device[p] == leaf and p != origin and int(ports.link[p]) in used]
            paused_rows = {r}
            for p in hop1:  # the leaf pauses the ports feeding the stuck queue...
                pfc_tx_extra[on, p] += 0.3 * PAUSES_PER_S_STUCK
                paused_rows.add(int(ports.link[p]))
                peer = port_of.get(f"{ports.peer[p]}:{ports.peer_port[p]}")
                if peer is None:
                    continue
                pfc_rx_extra[on, peer] += 0.3 * PAUSES_PER_S_STUCK
                # ...and a paused spine pauses its own feeders (hop 2)
                spine = ports.device[peer]
                for q in range(P):
                    if ports.device[q] == spine and q != peer and int(ports.link[q]) in used:
                        pfc_tx_extra[on, q] += 0.1 * PAUSES_PER_S_STUCK
                        paused_rows.add(int(ports.link[q]))
                        qq = port_of.get(f"{ports.peer[q]}:{ports.peer_port[q]}")
                        if qq is not None:
                            pfc_rx_extra[on, qq] += 0.1 * PAUSES_PER_S_STUCK
            # the stalled jobs stop moving bytes
            for k in victims:
                load[on] -= np.outer(np.ones(on.sum()), patterns[k] * jobs[k].duty)
            load = np.clip(load, 0.0, 1.0)
            truth.append(Event(ev.kind, ev.link, ev.at_s, None, end, 1, jobs_on(paused_rows, ev.at_s, end), ports.name(origin)))
        elif ev.kind == "hot-spot":
            end = ev.end_s if ev.end_s is not None else ev.at_s + 4 * 3600
            on = (t >= ev.at_s) & (t < end)
            d = 2 * r + (0 if pa is not None else 1)
            load[on, d] = np.clip(rng.normal(0.975, 0.01, on.sum()), 0.95, 1.0)
            truth.append(
                Event(
                    ev.kind, ev.link, ev.at_s, None, end, 1, jobs_on({r}, ev.at_s, end), ports.name(pa if pa is not None else pb)
                )
            )
        else:
            raise ValueError(f"unknown event kind {ev.kind!r}")
    # congestion the placement itself causes (jobs sharing a link direction) is ground truth too
    need = max(1, int(round(HOT_MIN_S / step_s)))
    injected = {e.link for e in truth if e.kind == "hot-spot"}
    fab_dirs = np.flatnonzero(np.repeat(np.asarray(fabric.links["kind"]) != "nic", 2))
    for d in fab_dirs[(load[:, fab_dirs] >= HOT_UTIL).sum(axis=0) >= need]:
        r = int(d // 2)
        lid = str(ports.link_id[np.flatnonzero(ports.link == r)[0]])
        if lid in injected:
            continue
        hotd = load[:, d] >= HOT_UTIL
        for k0, k1 in _runs(hotd):
            if k1 - k0 >= need:
                end = float(t[k1 - 1])
                side = np.flatnonzero((ports.link == r) & (ports.is_a == (d % 2 == 0)))
                truth.append(
                    Event(
                        "hot-spot",
                        lid,
                        float(t[k0]),
                        None,
                        end,
                        1,
                        jobs_on({r}, float(t[k0]), end),
                        ports.name(int(side[0])) if len(side) else "",
                    )
                )
    # per-port series
    link_up_p = up[:, ports.link]
    u_out = load[:, out_dir] * link_up_p
    u_in = load[:, in_dir] * link_up_p
    u_out[stall] = 0.0
    speed_bytes_per_s = ports.speed_gbps * 1e9 / 8
    dt = step_s
    values: dict[str, np.ndarray] = {}
    oct_out = (u_out * speed_bytes_per_s * dt).astype(np.uint64)
    oct_in = (u_in * speed_bytes_per_s * dt).astype(np.uint64)
    pkt = 4096.0  # RoCE MTU payload, bytes per packet
    ber = 10.0 ** np.minimum(log_ber, -1.0)
    cw = np.where(link_up_p, ports.speed_gbps * 1e9 / FEC_CODEWORD_BITS * dt, 0.0)
    corr = _poisson(rng, cw * p_corrected(ber))
    unc = _poisson(rng, cw * p_uncorrectable(ber))
    hot = np.clip((np.maximum(u_out, u_in) - 0.8) / 0.2, 0.0, 1.0)
    ecn = _poisson(rng, hot**2 * u_out * speed_bytes_per_s * dt / pkt * 0.05)
    pfc_rx = _poisson(rng, (hot**4 * 50.0 + pfc_rx_extra) * dt)
    pfc_tx = _poisson(rng, (hot**4 * 50.0 + pfc_tx_extra) * dt)
    step = {
        "in_octets": oct_in,
        "out_octets": oct_out,
        "in_errors": unc,
        "crc_errors": unc,
        "in_discards": np.zeros((T, P), np.uint64),
        "out_discards": np.zeros((T, P), np.uint64),
        "fec_corrected_codewords": corr,
        "fec_uncorrectable_codewords": unc,
        "pfc3_rx_pkts": pfc_rx,
        "pfc3_tx_pkts": pfc_tx,
        "q3_ecn_marked_pkts": ecn,
        "q3_dropped_pkts": np.zeros((T, P), np.uint64),
        "pfcwd_deadlock_detected": wd_detect.astype(np.uint64),
        "pfcwd_deadlock_restored": wd_restore.astype(np.uint64),
        "carrier_transitions": carrier[:, ports.link].astype(np.uint64),
        "bgp_established_transitions": bgp_trans[:, ports.link].astype(np.uint64),
    }
    for name, inc in step.items():
        inc = inc.copy()
        inc[0] = 0
        start = rng.integers(0, 2**40, P).astype(np.uint64)  # counters do not start at zero
        values[name] = start + np.cumsum(inc, axis=0, dtype=np.uint64)
    has_bgp = ports.kind != "nic"
    values["pre_fec_ber"] = np.where(link_up_p, ber, np.nan)
    values["q3_watermark_bytes"] = np.where(stall, 16e6, hot**2 * 8e6 + rng.uniform(0, 2e4, (T, P)))
    values["oper_up"] = link_up_p.astype(np.float64)
    values["bgp_established"] = np.where(has_bgp[None, :], bgp_up[:, ports.link].astype(np.float64), np.nan)
    values["dom_temperature_c"] = temp
    values["dom_tx_power_dbm"] = tx
    # receive power: what the peer port transmits, less the path loss
    peer_idx = np.array([port_of.get(f"{ports.peer[p]}:{ports.peer_port[p]}", p) for p in range(P)])
    values["dom_rx_power_dbm"] = np.where(link_up_p, tx[:, peer_idx] - loss_db[None, :] + rng.normal(0, 0.05, (T, P)), -40.0)
    for m in METRICS:
        assert m.name in values, m.name
    tel = Telemetry(ports, t.astype(np.float64), {m.name: values[m.name] for m in METRICS})
    from tokenfab.operate.loads import job_links

    return Scenario(
        tel, truth, jobs, job_links(fabric, jobs, patterns), dict(seed=seed, hours=hours, step_s=step_s, routing=routing)
    )


def _servers(fabric: Fabric) -> list[str]:
    """Server names in server-index order (GPU g is on server g // gpus_per_server)."""
    roles = np.asarray(fabric.devices["role"]).astype(str)
    return np.asarray(fabric.devices["name"]).astype(str)[roles == "server"].tolist()


def random_jobs(fabric: Fabric, rng: np.random.Generator, hours: float, n: int = 4) -> list[JobLoad]:
    """A few training jobs on random server sets (each over several leaves), running the whole window."""
    n_srv = len(_servers(fabric))
    gps = fabric.intent.cluster.gpus_per_server
    perm = rng.permutation(n_srv)
    size = max(2, n_srv // (n + 1))
    out = []
    for k in range(n):
        srv = np.sort(perm[k * size : (k + 1) * size])
        gpus = (srv[:, None] * gps + np.arange(gps)[None, :]).ravel()
        coll = "all_to_all" if k % 2 else "all_reduce"  # mixture-of-experts jobs cross rails through the spines
        out.append(JobLoad(f"job-{k + 1}", gpus, 0.0, hours * 3600 + 1, float(rng.uniform(0.3, 0.7)), "training", coll))
    return out


def draw_events(
    fabric: Fabric,
    rng: np.random.Generator,
    hours: float,
    per_kind: int | None = 1,
    start_s: float = 0.0,
    patterns: np.ndarray | None = None,
    realistic: bool = False,
) -> list[Event]:
    """Events for one scenario: `per_kind` of each kind (evaluation: every scenario has truth to find),
    or, with per_kind=None, Poisson numbers at RATE_PER_GPU_DAY for the fabric's GPUs.

    `realistic` widens the ranges to the hard cases: optics failing 2 h after they start to fade,
    two-bounce flaps, three-minute storms, half-hour hot spots."""
    aging_h = (2, 36) if realistic else (10, 36)
    flaps = (2, 9) if realistic else (3, 9)
    storm_h = (0.05, 2) if realistic else (0.25, 2)
    hot_h = (0.5, 4) if realistic else (1, 4)
    L = fabric.links
    names = np.asarray(fabric.devices["name"]).astype(str)
    ids = [f"{names[L['a'][i]]}:{L['a_port'][i]}--{names[L['b'][i]]}:{L['b_port'][i]}" for i in range(len(L))]
    kinds = np.asarray(L["kind"]).astype(str)
    fab = np.flatnonzero(kinds != "nic")
    nic = np.flatnonzero(kinds == "nic")
    gpus = len(_servers(fabric)) * fabric.intent.cluster.gpus_per_server
    span = hours * 3600
    out: list[Event] = []
    used: set[int] = set()

    def pick(rows):
        free = [r for r in rows if r not in used]
        r = int(rng.choice(free if free else rows))
        used.add(r)
        return r

    for kind in KINDS:
        n = per_kind if per_kind is not None else rng.poisson(RATE_PER_GPU_DAY[kind] * gpus * hours / 24)
        for _ in range(int(n)):
            if kind == "aging":
                at = start_s + rng.uniform(0.55, 0.95) * span
                onset = max(start_s + 3600.0, at - rng.uniform(*aging_h) * 3600)
                out.append(Event(kind, ids[pick(fab)], float(at), float(onset)))
            elif kind in ("flap", "bgp-flap"):
                out.append(
                    Event(
                        kind,
                        ids[pick(fab)],
                        float(start_s + rng.uniform(0.1, 0.9) * span),
                        count=int(rng.integers(flaps[0], flaps[1])),
                    )
                )
            elif kind == "pfc-storm":
                at = start_s + rng.uniform(0.1, 0.8) * span
                out.append(Event(kind, ids[pick(nic)], float(at), end_s=float(at + rng.uniform(*storm_h) * 3600)))
            else:
                rows = fab
                if patterns is not None and len(patterns):
                    loaded = np.flatnonzero(patterns.reshape(len(patterns), -1, 2).max(axis=(0, 2)) > 0.05)
                    rows = np.intersect1d(fab, loaded) if len(np.intersect1d(fab, loaded)) else fab
                at = start_s + rng.uniform(0.1, 0.7) * span
                out.append(Event(kind, ids[pick(rows)], float(at), end_s=float(at + rng.uniform(*hot_h) * 3600)))
    return out
