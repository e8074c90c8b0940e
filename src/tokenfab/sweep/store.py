"""Sweep results as CSV (byte-stable) and as a DuckDB table for ad-hoc queries."""

from __future__ import annotations

import csv
import io
from pathlib import Path


def columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def results_csv(rows: list[dict]) -> str:
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_duckdb(csv_path: Path, db_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        con.execute("CREATE TABLE results AS SELECT * FROM read_csv_auto(?, header=true)", [str(csv_path)])
    finally:
        con.close()
