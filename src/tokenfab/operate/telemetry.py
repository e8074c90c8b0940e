"""Telemetry as columns: every switch port x every sample, one numpy array per counter or gauge.

`Ports` lists the switch ports of a fabric (both ends of switch-switch links, the switch end of NIC
links); `Telemetry` holds sample times and one (samples x ports) array per column of counters.py.
Stored as Parquet (one row per port per sample: time_s, device, port, then the columns), read back
through `ingest`, which takes whatever a collector wrote: rows out of order, duplicates, gaps,
counter resets and wraparound, devices the fabric does not have - each named in a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.operate.counters import BY_NAME, COUNTERS, GAUGES, METRICS

WRAP32 = 2**32
U64_HALF = np.uint64(2**63)


@dataclass(frozen=True)
class Ports:
    """Switch ports of a fabric, as columns."""

    device: np.ndarray  # names (object)
    port: np.ndarray
    peer: np.ndarray  # device at the other end
    peer_port: np.ndarray
    link: np.ndarray  # row in fabric.links
    link_id: np.ndarray  # "a:pa--b:pb"
    kind: np.ndarray  # nic | leaf-spine | spine-core
    speed_gbps: np.ndarray
    is_a: np.ndarray  # this port is the link's `a` end

    def __len__(self) -> int:
        return len(self.device)

    @property
    def key(self) -> np.ndarray:
        return np.char.add(np.char.add(self.device.astype(str), ":"), self.port.astype(str))

    def index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.key.tolist())}

    def name(self, i: int) -> str:
        return f"{self.device[i]}:{self.port[i]}"

    @classmethod
    def of(cls, fabric: Fabric) -> Ports:
        L = fabric.links
        names = np.asarray(fabric.devices["name"], dtype=object)
        a, b = np.asarray(L["a"]), np.asarray(L["b"])
        kind = np.asarray(L["kind"], dtype=object)
        ids = np.array([f"{names[a[i]]}:{L['a_port'][i]}--{names[b[i]]}:{L['b_port'][i]}" for i in range(len(L))], dtype=object)
        sw = kind != "nic"  # the a end of a NIC link is the server's NIC, not a switch port
        rows_a = np.flatnonzero(sw)
        rows_b = np.arange(len(L))
        rows = np.concatenate([rows_a, rows_b])
        is_a = np.concatenate([np.ones(len(rows_a), bool), np.zeros(len(rows_b), bool)])
        dev = np.where(is_a, names[a[rows]], names[b[rows]])
        port = np.where(is_a, L["a_port"][rows], L["b_port"][rows])
        peer = np.where(is_a, names[b[rows]], names[a[rows]])
        peer_port = np.where(is_a, L["b_port"][rows], L["a_port"][rows])
        order = np.argsort(rows * 2 + (~is_a), kind="stable")  # link by link, the a end first
        return cls(
            dev[order].astype(object),
            port[order].astype(object),
            peer[order].astype(object),
            peer_port[order].astype(object),
            rows[order],
            ids[rows[order]],
            kind[rows[order]],
            np.asarray(L["speed_gbps"])[rows[order]].astype(np.float64),
            is_a[order],
        )


@dataclass
class Telemetry:
    ports: Ports
    t_s: np.ndarray  # sample times, increasing
    values: dict[str, np.ndarray]  # column -> (samples, ports); counters uint64, gauges float64
    valid: dict[str, np.ndarray] = field(default_factory=dict)  # counter -> present mask (absent: all present)
    warnings: list[str] = field(default_factory=list)

    @property
    def step_s(self) -> float:
        return float(np.median(np.diff(self.t_s))) if len(self.t_s) > 1 else 60.0

    def window(self, t0_s: float, t1_s: float) -> Telemetry:
        m = (self.t_s >= t0_s) & (self.t_s <= t1_s)
        return Telemetry(
            self.ports,
            self.t_s[m],
            {k: v[m] for k, v in self.values.items()},
            {k: v[m] for k, v in self.valid.items()},
            list(self.warnings),
        )

    def rate(self, name: str) -> np.ndarray:
        """Per-second rate of a counter (samples x ports), NaN where it cannot be known.

        Differences are taken between consecutive present samples of each port (gaps span their
        real time). A counter that went down was either wrapped (it was in the top half of its 64-bit
        or 32-bit range: the modular difference) or reset (cleared or rebooted: the new value is
        what accumulated since)."""
        c = self.values[name]
        n_t, n_p = c.shape
        if n_t == 0:
            return np.zeros((0, n_p))
        v = self.valid.get(name)
        if v is None:
            prev = np.broadcast_to(np.arange(-1, n_t - 1)[:, None], (n_t, n_p))
            ok = prev >= 0
        else:
            idx = np.where(v, np.arange(n_t)[:, None], -1)
            last = np.maximum.accumulate(idx, axis=0)
            prev = np.vstack([np.full((1, n_p), -1), last[:-1]])
            ok = v & (prev >= 0)
        prev_c = np.take_along_axis(c, np.maximum(prev, 0), axis=0)
        delta = c - prev_c  # uint64: modular, right for a 64-bit wrap
        down = ok & (c < prev_c)
        if down.any():
            wrap64 = down & (prev_c >= U64_HALF)
            wrap32 = down & ~wrap64 & (prev_c < WRAP32) & (prev_c >= WRAP32 // 2)
            reset = down & ~wrap64 & ~wrap32
            delta = np.where(wrap32, c + np.uint64(WRAP32) - prev_c, delta)
            delta = np.where(reset, c, delta)
        dt = self.t_s[:, None] - self.t_s[np.maximum(prev, 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(ok & (dt > 0), delta.astype(np.float64) / dt, np.nan)
        return r

    def counter_anomalies(self) -> dict[str, dict[str, int]]:
        """Ports with counters that wrapped or reset, per kind (for the warnings)."""
        out: dict[str, dict[str, int]] = {"wrapped": {}, "reset": {}}
        for name in COUNTERS:
            c = self.values[name]
            v = self.valid.get(name)
            if v is not None:
                c = np.where(v, c, np.uint64(0))
            prev_c, cur = c[:-1], c[1:]
            down = cur < prev_c
            if v is not None:
                down &= v[:-1] & v[1:]
            if not down.any():
                continue
            wrap = down & ((prev_c >= U64_HALF) | ((prev_c < WRAP32) & (prev_c >= WRAP32 // 2)))
            for kind, m in (("wrapped", wrap), ("reset", down & ~wrap)):
                for p in np.flatnonzero(m.any(axis=0)):
                    out[kind][self.ports.name(int(p))] = out[kind].get(self.ports.name(int(p)), 0) + int(m[:, p].sum())
        return out

    # -- storage ----------------------------------------------------------------------------------
    def to_arrow(self):
        import pyarrow as pa

        n_t, n_p = len(self.t_s), len(self.ports)
        cols = {"time_s": pa.array(np.repeat(self.t_s, n_p))}
        for name, names in (("device", self.ports.device), ("port", self.ports.port)):
            # names dictionary-encoded (each distinct name once): small files, fast to write and read
            uniq, inv = np.unique(names.astype(str), return_inverse=True)
            cols[name] = pa.DictionaryArray.from_arrays(pa.array(np.tile(inv.astype(np.int32), n_t)), pa.array(uniq))
        for m in METRICS:
            arr = self.values[m.name].reshape(-1)
            mask = None
            if m.kind == "counter" and m.name in self.valid:
                mask = ~self.valid[m.name].reshape(-1)
            elif m.kind == "gauge":
                mask = np.isnan(arr)
            cols[m.name] = pa.array(arr, mask=mask if mask is not None and mask.any() else None)
        return pa.table(cols)

    def write_parquet(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(self.to_arrow(), str(path), compression="zstd")


def ingest(table, ports: Ports) -> Telemetry:
    """Rows (a pyarrow Table with time_s, device, port and any of the schema's columns) onto the
    fabric's ports. Never fails on messy data: unknown devices/ports are dropped, out-of-order rows
    sorted, duplicates keep the last row, missing samples stay gaps; each named in a warning."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for col in ("time_s", "device", "port"):
        if col not in table.column_names:
            raise InputError(
                f"telemetry: column {col!r} missing (have: {', '.join(table.column_names)}); "
                f"rows need time_s, device, port and the counters of `tokenfab operate schema`"
            )
    unknown_cols = [c for c in table.column_names if c not in BY_NAME and c not in ("time_s", "device", "port")]
    warnings: list[str] = []
    if unknown_cols:
        warnings.append(f"columns not in the schema ignored: {', '.join(unknown_cols[:10])}")
    t = table.column("time_s").to_numpy(zero_copy_only=False).astype(np.float64)
    # device and port names dictionary-encoded: the name lookup is per distinct name, not per row
    dev = pc.dictionary_encode(pc.cast(table.column("device"), pa.string())).combine_chunks()
    prt = pc.dictionary_encode(pc.cast(table.column("port"), pa.string())).combine_chunks()
    dev_names = dev.dictionary.to_pylist()
    prt_names = prt.dictionary.to_pylist()
    di = dev.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pi = prt.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    code = di * max(len(prt_names), 1) + pi
    ucode, inv = np.unique(code, return_inverse=True)
    uniq = np.array(
        [f"{dev_names[c // max(len(prt_names), 1)]}:{prt_names[c % max(len(prt_names), 1)]}" for c in ucode.tolist()],
        dtype=object,
    )
    index = ports.index()
    map_u = np.array([index.get(k, -1) for k in uniq.tolist()], dtype=np.int64)
    p = map_u[inv] if len(inv) else np.zeros(0, np.int64)
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        warnings.append(f"{int(bad_t.sum())} rows without a finite time_s dropped")
    known = (p >= 0) & ~bad_t
    if not known.all():
        missing = uniq[map_u < 0].astype(str)
        devs = sorted({k.split(":")[0] for k in missing.tolist()})
        fab_devs = set(ports.device.tolist())
        unk_dev = [d for d in devs if d not in fab_devs]
        unk_port = [k for k in missing.tolist() if k.split(":")[0] in fab_devs]
        if unk_dev:
            warnings.append(
                f"unknown devices, {int((~known).sum())} rows dropped: {', '.join(unk_dev[:10])}"
                + (f" and {len(unk_dev) - 10} more" if len(unk_dev) > 10 else "")
            )
        if unk_port:
            more = f" and {len(unk_port) - 10} more" if len(unk_port) > 10 else ""
            warnings.append(f"unknown ports dropped: {', '.join(unk_port[:10])}{more}")
    rows = np.flatnonzero(known)
    t, p = t[rows], p[rows]
    # out of order: a port's time going backwards in file order
    order = np.lexsort((rows, t, p))  # by port, then time, then file order (the last duplicate wins)
    by_port = np.argsort(p, kind="stable")  # file order within each port
    ps, ts = p[by_port], t[by_port]
    backwards = int(((np.diff(ts) < 0) & (ps[1:] == ps[:-1])).sum()) if len(t) > 1 else 0
    if backwards:
        warnings.append(f"{backwards} samples out of order (sorted by time)")
    times, ti = np.unique(t, return_inverse=True)
    n_t, n_p = len(times), len(ports)
    cell = ti[order] * n_p + p[order]
    last = np.ones(len(cell), bool)
    last[:-1] = cell[:-1] != cell[1:]  # sorted by cell within a port and time: keep the last of equal cells
    dup = int((~last).sum())
    if dup:
        warnings.append(f"{dup} duplicate samples (same port and time): the last one kept")
    sel = order[last]
    cells = ti[sel] * n_p + p[sel]
    present = np.zeros(n_t * n_p, bool)
    present[cells] = True
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    absent_cols = []
    for m in METRICS:
        if m.name not in table.column_names:
            absent_cols.append(m.name)
            values[m.name] = np.zeros((n_t, n_p), np.uint64) if m.kind == "counter" else np.full((n_t, n_p), np.nan)
            if m.kind == "counter":
                valid[m.name] = np.zeros((n_t, n_p), bool)
            continue
        col = table.column(m.name).take(pa.array(rows[sel]))
        null = col.is_null().to_numpy(zero_copy_only=False)
        if m.kind == "counter":
            raw = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
            if raw.dtype.kind == "f":
                neg = ~np.isfinite(raw) | (raw < 0)
                null = null | neg
                raw = np.where(neg, 0, raw)
            arr = np.zeros(n_t * n_p, np.uint64)
            arr[cells] = raw.astype(np.uint64)
            v = np.zeros(n_t * n_p, bool)
            v[cells] = ~null
            values[m.name] = arr.reshape(n_t, n_p)
            valid[m.name] = v.reshape(n_t, n_p)
        else:
            raw = col.to_numpy(zero_copy_only=False).astype(np.float64)
            arr = np.full(n_t * n_p, np.nan)
            arr[cells] = np.where(null, np.nan, raw)
            values[m.name] = arr.reshape(n_t, n_p)
    if absent_cols:
        warnings.append(f"columns absent (treated as unknown): {', '.join(absent_cols)}")
    gaps = int((~present).sum())
    if gaps:
        silent = np.flatnonzero(~present.reshape(n_t, n_p).any(axis=0))
        warnings.append(
            f"{gaps} missing samples (gaps) over {int((~present.reshape(n_t, n_p)).any(axis=0).sum())} ports"
            + (
                f"; never reported: {', '.join(ports.name(int(i)) for i in silent[:5])}"
                + (f" and {len(silent) - 5} more" if len(silent) > 5 else "")
                if len(silent)
                else ""
            )
        )
    tel = Telemetry(ports, times, values, valid, warnings)
    anomalies = tel.counter_anomalies()
    for kind, ports_hit in anomalies.items():
        if ports_hit:
            names = sorted(ports_hit)
            warnings.append(
                f"counters {kind} on {len(names)} ports (rates corrected): {', '.join(names[:8])}"
                + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            )
    return tel


def read_parquet(path: str | Path, ports: Ports) -> Telemetry:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable Parquet telemetry file ({exc})") from None
    return ingest(table, ports)


__all__ = ["Ports", "Telemetry", "ingest", "read_parquet", "COUNTERS", "GAUGES"]
