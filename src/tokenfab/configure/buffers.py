"""Lossless buffers (SONiC's traditional buffer model): pools, profiles and per-port headroom.

Headroom per port comes from the platform's own `pg_profile_lookup.ini` rows (catalog
`lossless_headroom`), using the smallest listed cable length that covers the run, which is also
what CABLE_LENGTH then says (buffermgrd looks rows up by exact speed and cable length). Where the
catalog has no row, the headroom is an estimate from the usual PFC formula:

    xoff  = 2 x length_m x 5 ns/m x rate      (bytes still arriving while PAUSE crosses the cable and back)
          + 2 x MTU                           (a frame in flight at each end when PAUSE is sent/received)
          + 2 us x rate                       (PFC generation and reaction time, both ends; assumption)
    xon   = 2 x MTU,  size = xon + xoff,  dynamic_th = 0

with rate in bytes/s and MTU 9216 B. Pools likewise come from the platform's buffer templates
(catalog `buffer_pools`); without them they are split from the catalog's buffer size and marked as
estimates. Every figure and its source is listed in configs/buffers.csv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenfab.catalog import Switch, load_catalog, per_catalog

MTU_BYTES = 9216
PROPAGATION_S_PER_M = 5e-9
PFC_RESPONSE_S = 2e-6


@dataclass(frozen=True)
class Headroom:
    speed_gbps: int
    cable_m: int
    size: int
    xon: int
    xoff: int
    dynamic_th: int
    xon_offset: int | None
    source: str
    estimate: bool

    @property
    def profile(self) -> str:
        return f"pg_lossless_{self.speed_gbps}G_{self.cable_m}m_profile"


@per_catalog
def _rows(model: str) -> dict[int, list[tuple[int, dict]]]:
    """speed -> [(cable_m, row)] sorted by cable length."""
    sonic = load_catalog().switches[model].sonic
    table = (sonic.lossless_headroom or {}) if sonic else {}
    out: dict[int, list[tuple[int, dict]]] = {}
    for key, row in (table.get("rows") or {}).items():
        speed, cable = key.split("_")
        out.setdefault(int(speed.removesuffix("G")), []).append((int(cable.removesuffix("m")), row))
    return {s: sorted(v, key=lambda x: x[0]) for s, v in out.items()}


def estimate(speed_gbps: int, cable_m: int) -> Headroom:
    rate = speed_gbps * 1e9 / 8
    xoff = math.ceil(2 * cable_m * PROPAGATION_S_PER_M * rate + 2 * MTU_BYTES + PFC_RESPONSE_S * rate)
    xon = 2 * MTU_BYTES
    return Headroom(
        speed_gbps, cable_m, xon + xoff, xon, xoff, 0, None, "estimate: PFC headroom formula (tokenfab.configure.buffers)", True
    )


@per_catalog
def headroom(model: str, speed_gbps: int, length_m: float) -> Headroom:
    sw = load_catalog().switches[model]
    for cable, row in _rows(model).get(speed_gbps, []):
        if cable >= length_m:
            assert sw.sonic is not None and sw.sonic.lossless_headroom is not None  # the rows came from it
            return Headroom(
                speed_gbps,
                cable,
                int(row["size"]),
                int(row["xon"]),
                int(row["xoff"]),
                int(row.get("threshold", 0)),
                row.get("xon_offset"),
                sw.sonic.lossless_headroom.get("source", "catalog"),
                False,
            )
    return estimate(speed_gbps, max(1, math.ceil(length_m)))


@dataclass(frozen=True)
class Pools:
    pools: dict[str, dict[str, str]]  # BUFFER_POOL rows
    ingress_lossless: str
    ingress_lossy: str
    egress_lossless: str
    egress_lossy: str
    source: str
    estimate: bool


@per_catalog
def pools(model: str) -> Pools:
    sw: Switch = load_catalog().switches[model]
    data = dict((sw.sonic.buffer_pools or {}) if sw.sonic else {})
    source = data.pop("source", "")
    if data:
        rows = {name: {k: str(v) for k, v in row.items()} for name, row in data.items()}
        estimate_ = False
    else:
        # No platform buffer template: split the catalog's buffer size (an estimate itself).
        total = int((sw.buffer_mbytes or 64) * 1e6)
        rows = {
            "ingress_lossless_pool": {"type": "ingress", "mode": "dynamic", "size": str(total * 6 // 10)},
            "egress_lossless_pool": {"type": "egress", "mode": "dynamic", "size": str(total)},
            "egress_lossy_pool": {"type": "egress", "mode": "dynamic", "size": str(total * 4 // 10)},
        }
        source, estimate_ = (
            f"estimate: split of buffer_mbytes {sw.buffer_mbytes} ({sw.sources.get('buffer_mbytes', 'catalog')})",
            True,
        )

    def first(*names: str) -> str:
        return next(n for n in names if n in rows)

    ing_ll = first("ingress_lossless_pool")
    return Pools(
        rows,
        ing_ll,
        first("ingress_lossy_pool", "lossy_pool", ing_ll),
        first("egress_lossless_pool", ing_ll),
        first("egress_lossy_pool", "lossy_pool", "egress_lossless_pool"),
        source,
        estimate_,
    )


def profiles(p: Pools, used: list[Headroom]) -> dict[str, dict[str, str]]:
    """BUFFER_PROFILE rows: the four base profiles plus one lossless PG profile per (speed, cable) in use."""

    def egress_lossless() -> dict[str, str]:
        pool = p.pools[p.egress_lossless]
        if pool.get("mode") == "static":
            return {"pool": p.egress_lossless, "size": "0", "static_th": pool["size"]}
        return {"pool": p.egress_lossless, "size": "0", "dynamic_th": "7"}

    out = {
        "ingress_lossy_profile": {"pool": p.ingress_lossy, "size": "0", "dynamic_th": "3"},
        "egress_lossless_profile": egress_lossless(),
        "egress_lossy_profile": {"pool": p.egress_lossy, "size": "1518", "dynamic_th": "3"},
    }
    for h in used:
        row = {
            "pool": p.ingress_lossless,
            "size": str(h.size),
            "xon": str(h.xon),
            "xoff": str(h.xoff),
            "dynamic_th": str(h.dynamic_th),
        }
        if h.xon_offset is not None:
            row["xon_offset"] = str(h.xon_offset)
        out[h.profile] = row
    return out


def ranges(values: list[int]) -> list[str]:
    """[0,1,2,4,5,6] -> ["0-2", "4-6"] (SONiC's index-range keys)."""
    out, vals = [], sorted(set(values))
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        out.append(str(vals[i]) if i == j else f"{vals[i]}-{vals[j]}")
        i = j + 1
    return out
