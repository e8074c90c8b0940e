"""Ingest a week of 1-minute telemetry for the 2,048-GPU fabric (examples/clos-2048.yaml, every
switch port): rows/s and peak memory, and a DuckDB query over the stored week.

Rows arrive an hour at a time (as a collector would hand them over), each batch with its share of
mess - rows shuffled, 0.1% dropped, duplicates, one device the fabric does not have, a counter reset -
and go through `telemetry.ingest` (sorting, gap and reset handling, rates checked) into the Parquet
history (`store.append`).

    python benchmarks/operate_ingest.py [--days 7]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tokenfab import load_intent, plan  # noqa: E402
from tokenfab.operate import store  # noqa: E402
from tokenfab.operate.counters import METRICS  # noqa: E402
from tokenfab.operate.telemetry import Ports, ingest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def batch(ports: Ports, hour: int, rng: np.random.Generator, step_s: float = 60.0) -> pa.Table:
    P = len(ports)
    n = int(3600 / step_s)
    t = hour * 3600 + np.arange(n) * step_s
    k = (hour * n + np.arange(n))[:, None]
    cols = {"time_s": np.repeat(t, P), "device": np.tile(ports.device.astype(str), n), "port": np.tile(ports.port.astype(str), n)}
    line = ports.speed_gbps[None, :] * 1e9 / 8 * step_s
    for i, m in enumerate(METRICS):
        if m.kind == "counter":
            per = (line * 0.3).astype(np.uint64) if "octets" in m.name else np.uint64(17 + i)
            v = (np.uint64(10**9) + k.astype(np.uint64) * per).astype(np.uint64)
            cols[m.name] = np.broadcast_to(v, (n, P)).reshape(-1)
        else:
            cols[m.name] = rng.normal(1e-8 if m.name == "pre_fec_ber" else 40.0, 1.0 if m.name != "pre_fec_ber" else 1e-9, n * P)
    if hour == 50:  # a switch rebooted: its counters start again
        for m in METRICS:
            if m.kind == "counter":
                cols[m.name] = cols[m.name].copy()
                cols[m.name][30 * P : 30 * P + 64] = 5
    tbl = pa.table(cols)
    keep = rng.uniform(size=len(tbl)) > 0.001  # dropped samples
    idx = np.flatnonzero(keep)
    idx = np.concatenate([idx, idx[:100]])  # duplicates
    rng.shuffle(idx[: len(idx) // 10])  # partly out of order
    tbl = tbl.take(pa.array(idx))
    extra = tbl.slice(0, 60).set_column(1, "device", pa.array(["leaf-r99-9"] * 60))  # a device not in the fabric
    return pa.concat_tables([tbl, extra])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=7.0)
    args = ap.parse_args()
    fabric = plan(load_intent(ROOT / "examples" / "clos-2048.yaml"))
    ports = Ports.of(fabric)
    hours = int(args.days * 24)
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="tokenfab-ingest-"))
    rows = 0
    t_ingest = t_store = 0.0
    warned = set()
    try:
        with Progress(transient=True) as prog:
            task = prog.add_task("ingesting hours", total=hours)
            for h in range(hours):
                tbl = batch(ports, h, rng)
                rows += len(tbl)
                a = time.perf_counter()
                tel = ingest(tbl, ports)
                b = time.perf_counter()
                store.append(folder, tel.to_arrow(), f"h{h:05d}")
                c = time.perf_counter()
                t_ingest += b - a
                t_store += c - b
                warned.update(re.sub(r"\d[\d,]*", "N", w.split(":")[0]).strip() for w in tel.warnings)
                prog.advance(task)
        size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
        con = store.connect(folder)
        a = time.perf_counter()
        worst = con.execute(
            "SELECT device, port, max(pre_fec_ber) AS ber FROM telemetry GROUP BY ALL ORDER BY ber DESC LIMIT 1"
        ).fetchone()
        n_stored = con.execute("SELECT count(*) FROM telemetry").fetchone()[0]
        q = time.perf_counter() - a
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = Table(
        title=f"{args.days:g} day(s) of 1-minute telemetry, clos-2048: {len(ports):,} switch ports x {hours * 60:,} samples"
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in (
        ("rows offered", f"{rows:,}"),
        ("rows stored", f"{n_stored:,}"),
        ("ingest (sort, dedupe, gaps, resets)", f"{rows / t_ingest:,.0f} rows/s ({t_ingest:.0f} s)"),
        ("ingest + Parquet history", f"{rows / (t_ingest + t_store):,.0f} rows/s ({t_ingest + t_store:.0f} s)"),
        ("peak memory (RSS)", f"{peak_mib:,.0f} MiB"),
        ("history on disk", f"{size / 2**20:,.0f} MiB"),
        ("DuckDB: worst pre-FEC BER over the history", f"{q:.2f} s ({worst[0]}:{worst[1]})"),
        ("warnings raised", "; ".join(sorted(warned))),
    ):
        t.add_row(k, v)
    Console().print(t)


if __name__ == "__main__":
    main()
