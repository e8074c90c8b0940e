"""History in DuckDB over Parquet: telemetry appended as Parquet files, queried with SQL.

`append` writes one Parquet file per batch into a folder (atomically: a temporary name renamed);
`connect` opens DuckDB with a `telemetry` view over all of them, so a week of samples is queried
without loading it into memory (`SELECT device, port, max(pre_fec_ber) FROM telemetry GROUP BY ALL`).
"""

from __future__ import annotations

import os
from pathlib import Path


def append(folder: str | Path, table, name: str) -> Path:
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.parquet"
    tmp = folder / f".{name}.parquet.tmp"
    pq.write_table(table, str(tmp), compression="zstd")
    os.replace(tmp, out)
    return out


def connect(folder: str | Path):
    import duckdb

    con = duckdb.connect()
    pattern = str(Path(folder) / "*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW telemetry AS SELECT * FROM read_parquet('{pattern}')")
    return con
