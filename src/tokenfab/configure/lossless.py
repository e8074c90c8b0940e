"""Lossless RoCE across the fabric's files: the QoS every hop and host must share, and ECN before PFC.

Checks (each returns Violations naming device, table, key and field):

- lossless: every active port of every switch classifies and pauses the same way (DSCP -> TC, TC
  -> PG, TC -> queue, pfc_enable), both ends of a link enable PFC on the same priorities, each
  lossless PG has headroom, and every host marks RoCE with a DSCP the switches treat as lossless,
  with the same PFC priorities.
- ecn: each lossless queue marks ECN (WRED profile with ECN on) and marking starts before PFC
  would pause. Comparison: in an N-to-1 incast the egress queue holds what the N congested
  ingress PGs hold; with dynamic thresholds a PG pauses at reserved + a*B/(1 + a*N) (a = 2^
  dynamic_th, B = the pool's shared bytes), so the queue holds N*a*B/(1 + a*N) at the first pause,
  least for N = 1. ECN starts before PFC when ecn_min < reserved + a*B/(1 + a) (static
  thresholds: ecn_min < static_th). Hosts enable ECN on their PFC priorities.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tokenfab.configure.checks import Host, Violation, int_list


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortQos:
    dscp_to_tc: tuple
    tc_to_pg: tuple
    tc_to_queue: tuple
    pfc: tuple


class QosView:
    """Cached reads of one switch's QoS tables (maps by name, BUFFER_PG ranges by port)."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self._maps: dict[tuple[str, str], dict[int, int]] = {}
        self._pg: dict[str, list[tuple[int, int, str]]] | None = None

    def map(self, table: str, name: str | None) -> dict[int, int]:
        key = (table, name or "")
        if key not in self._maps:
            out = {}
            for k, v in self.cfg.get(table, {}).get(name or "", {}).items():
                if str(k).isdigit() and str(v).isdigit():
                    out[int(k)] = int(v)
            self._maps[key] = out
        return self._maps[key]

    def pg_profile(self, port: str, pg: int) -> str | None:
        """The BUFFER_PG profile covering (port, pg)."""
        if self._pg is None:
            self._pg = defaultdict(list)
            for key, row in self.cfg.get("BUFFER_PG", {}).items():
                p, _, rng = key.partition("|")
                lo, _, hi = rng.partition("-")
                if lo.isdigit() and (hi or lo).isdigit():
                    self._pg[p].append((int(lo), int(hi or lo), row.get("profile")))
        for lo, hi, prof in self._pg.get(port, ()):
            if lo <= pg <= hi:
                return prof
        return None


def port_qos(view: QosView, port: str) -> PortQos | None:
    cfg = view.cfg
    q = cfg.get("PORT_QOS_MAP", {}).get(port)
    if q is None:
        return None
    glob = cfg.get("PORT_QOS_MAP", {}).get("global", {})
    dscp = view.map("DSCP_TO_TC_MAP", q.get("dscp_to_tc_map") or glob.get("dscp_to_tc_map"))
    return PortQos(
        tuple(sorted(dscp.items())),
        tuple(sorted(view.map("TC_TO_PRIORITY_GROUP_MAP", q.get("tc_to_pg_map")).items())),
        tuple(sorted(view.map("TC_TO_QUEUE_MAP", q.get("tc_to_queue_map")).items())),
        tuple(sorted(set(int_list(q.get("pfc_enable", ""))))),
    )


def _diff(a: tuple, b: tuple, label: str) -> str:
    da, db = dict(a), dict(b)
    keys = sorted(set(da) | set(db))
    bad = [f"{label} {k}: {da.get(k, '-')} here, {db.get(k, '-')} elsewhere" for k in keys if da.get(k) != db.get(k)]
    return "; ".join(bad[:4]) + (f" (+{len(bad) - 4} more)" if len(bad) > 4 else "")


def switch_qos(name: str, cfg: dict) -> tuple[dict[str, PortQos], list[Violation]]:
    """One switch's part of the lossless check: every active port has QoS maps and PFC, and each
    lossless priority a PG with headroom (a BUFFER_PG whose profile has xoff). Returns the ports'
    QoS for the checks across devices (`lossless_fabric`)."""
    out: list[Violation] = []
    qos: dict[str, PortQos] = {}
    same: dict[PortQos, PortQos] = {}  # ports share one object per distinct QoS (a fabric holds 100k ports)
    view = QosView(cfg)
    for port in cfg.get("DEVICE_NEIGHBOR", {}):
        q = port_qos(view, port)
        if q is None:
            out.append(Violation("lossless", name, "PORT_QOS_MAP", port, "", "active port without QoS maps or PFC"))
            continue
        qos[port] = q = same.setdefault(q, q)
        pg_of = dict(q.tc_to_pg)
        for p in q.pfc:
            pg = pg_of.get(p)
            prof = view.pg_profile(port, pg) if pg is not None else None
            if prof is None or "xoff" not in cfg.get("BUFFER_PROFILE", {}).get(prof, {}):
                out.append(
                    Violation(
                        "lossless",
                        name,
                        "BUFFER_PG",
                        f"{port}|{pg}",
                        "profile",
                        f"PFC priority {p} has no lossless buffer (a profile with xoff headroom) on its PG {pg}",
                    )
                )
    return qos, out


def lossless_fabric(qos: dict[tuple[str, str], PortQos], configs: dict[str, dict], hosts: dict[str, Host]) -> list[Violation]:
    """Across devices: every hop classifies and pauses alike, both ends of a link pause on the same
    priorities, and hosts mark and pause as their leaf ports expect. `configs` needs DEVICE_NEIGHBOR."""
    out: list[Violation] = []
    if not qos:
        return out
    common = {
        f: Counter(getattr(q, f) for q in qos.values()).most_common(1)[0][0]
        for f in ("dscp_to_tc", "tc_to_pg", "tc_to_queue", "pfc")
    }
    labels = {
        "dscp_to_tc": ("DSCP_TO_TC_MAP", "dscp_to_tc_map", "DSCP"),
        "tc_to_pg": ("TC_TO_PRIORITY_GROUP_MAP", "tc_to_pg_map", "TC"),
        "tc_to_queue": ("TC_TO_QUEUE_MAP", "tc_to_queue_map", "TC"),
    }
    for (name, port), q in sorted(qos.items()):
        for f, (table, field, label) in labels.items():
            if getattr(q, f) != common[f]:
                out.append(
                    Violation(
                        "lossless",
                        name,
                        "PORT_QOS_MAP",
                        port,
                        field,
                        f"{table} differs from the rest of the fabric: {_diff(getattr(q, f), common[f], label)}",
                    )
                )
        if q.pfc != common["pfc"]:
            out.append(
                Violation(
                    "lossless",
                    name,
                    "PORT_QOS_MAP",
                    port,
                    "pfc_enable",
                    f"PFC on priorities {','.join(map(str, q.pfc)) or 'none'}, but "
                    f"{','.join(map(str, common['pfc']))} on the other hops",
                )
            )
    # both ends of each switch-switch link pause on the same priorities
    for (name, port), q in sorted(qos.items()):
        n = configs[name]["DEVICE_NEIGHBOR"][port]
        other = qos.get((n.get("name"), n.get("port")))
        if other is not None and name < n.get("name", "") and other.pfc != q.pfc:
            out.append(
                Violation(
                    "lossless",
                    name,
                    "PORT_QOS_MAP",
                    port,
                    "pfc_enable",
                    f"PFC {','.join(map(str, q.pfc))} here, {','.join(map(str, other.pfc))} on {n['name']}:{n['port']}",
                )
            )
    # hosts against their leaf ports
    for name, cfg in sorted(configs.items()):
        for port, n in sorted(cfg.get("DEVICE_NEIGHBOR", {}).items()):
            h = hosts.get(n.get("name", ""))
            port_q = qos.get((name, port))
            if h is None or port_q is None:
                continue
            out += _host_vs_port(n["name"], h, name, port, port_q)
    return out


def _host_vs_port(host: str, h: Host, switch: str, port: str, q: PortQos) -> list[Violation]:
    out = []
    v = h.vars
    try:
        dscp, prio = int(v["ROCE_DSCP"]), int(v["ROCE_PRIORITY"])
        cnp, cnp_prio = int(v["CNP_DSCP"]), int(v["CNP_PRIORITY"])
        pfc = tuple(sorted(set(int_list(v["PFC_PRIORITIES"]))))
        ecn = set(int_list(v.get("ECN_PRIORITIES", "")))
    except (KeyError, ValueError) as exc:
        return [Violation("lossless", host, "roce.sh", "", "", f"missing or bad setting {exc}")]
    for label, d in (("ROCE_DSCP", dscp), ("CNP_DSCP", cnp)):
        if not 0 <= d <= 63:
            out.append(Violation("lossless", host, "roce.sh", "", label, f"DSCP {d} is outside 0..63"))
    tc = dict(q.dscp_to_tc)
    if tc.get(dscp) not in q.pfc:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "ROCE_DSCP",
                f"RoCE marked DSCP {dscp} is TC {tc.get(dscp, '-')} "
                f"on {switch}:{port}, not one of its lossless priorities {','.join(map(str, q.pfc))}",
            )
        )
    elif tc.get(dscp) != prio:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "ROCE_PRIORITY",
                f"the NIC sends DSCP {dscp} on priority {prio}, {switch}:{port} classifies it as TC {tc.get(dscp)}",
            )
        )
    if pfc != q.pfc:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "PFC_PRIORITIES",
                f"PFC on {','.join(map(str, pfc))} at the host, {','.join(map(str, q.pfc))} on {switch}:{port}",
            )
        )
    if tc.get(cnp) != cnp_prio:
        out.append(
            Violation(
                "lossless",
                host,
                "roce.sh",
                "",
                "CNP_PRIORITY",
                f"CNP DSCP {cnp} on priority {cnp_prio} at the host, TC {tc.get(cnp, '-')} on {switch}:{port}",
            )
        )
    if not set(pfc) <= ecn:
        out.append(
            Violation(
                "ecn",
                host,
                "roce.sh",
                "",
                "ECN_PRIORITIES",
                f"ECN is off on lossless priorities {','.join(map(str, sorted(set(pfc) - ecn)))}",
            )
        )
    return out


# ---------------------------------------------------------------------------------------
def _num(row: dict, field: str) -> int | None:
    v = row.get(field)
    return int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else None


def ecn(configs: dict[str, dict]) -> list[Violation]:
    out = []
    for name, cfg in sorted(configs.items()):
        view = QosView(cfg)
        wred = cfg.get("WRED_PROFILE", {})
        pools = cfg.get("BUFFER_POOL", {})
        profiles = cfg.get("BUFFER_PROFILE", {})
        for port in sorted(cfg.get("DEVICE_NEIGHBOR", {})):
            q = port_qos(view, port)
            if q is None:
                continue
            tc_q, pg_of = dict(q.tc_to_queue), dict(q.tc_to_pg)
            for p in q.pfc:
                queue = tc_q.get(p, p)
                row = cfg.get("QUEUE", {}).get(f"{port}|{queue}", {})
                prof = wred.get(row.get("wred_profile", ""), {})
                if not row.get("wred_profile") or prof.get("ecn", "ecn_none") == "ecn_none":
                    out.append(
                        Violation(
                            "ecn",
                            name,
                            "QUEUE",
                            f"{port}|{queue}",
                            "wred_profile",
                            f"lossless queue {queue} does not mark ECN (no WRED profile with ECN)",
                        )
                    )
                    continue
                kmin = _num(prof, "green_min_threshold")
                pg_prof = view.pg_profile(port, pg_of.get(p, p))
                bp = profiles.get(pg_prof or "", {})
                pause, how = _pause_bytes(bp, pools.get(bp.get("pool", ""), {}))
                if kmin is None or pause is None:
                    continue
                if kmin >= pause:
                    out.append(
                        Violation(
                            "ecn",
                            name,
                            "WRED_PROFILE",
                            row["wred_profile"],
                            "green_min_threshold",
                            f"ECN starts at {kmin} B of queue, after PFC would pause ({how} = {pause} B for "
                            f"{port} PG {pg_of.get(p, p)}, profile {pg_prof})",
                        )
                    )
    return out


def _pause_bytes(profile: dict, pool: dict) -> tuple[int | None, str]:
    static = _num(profile, "static_th")
    if static is not None:
        return static, "static_th"
    dyn, size = _num(profile, "dynamic_th"), _num(profile, "size")
    pool_size = _num(pool, "size")
    if dyn is None or pool_size is None:
        return None, ""
    shared = pool_size - (_num(pool, "xoff") or 0)
    reserved = max(0, (size or 0) - (_num(profile, "xoff") or 0))
    a = 2.0**dyn
    return int(reserved + a * shared / (1 + a)), f"reserved + a*B/(1+a) with a=2^{dyn}, B={shared}"
