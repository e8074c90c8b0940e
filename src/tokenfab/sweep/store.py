"""Sweep results in DuckDB, streamed as each point finishes, so a killed sweep resumes where it stopped.

`sweep.duckdb` holds:
- `meta`: the sweep's name, the hash of its points (a resume must match it) and when it was made;
- `points`: one row per point, written before anything runs (status `pending`) and updated once
  when the point finishes: `ok`, `infeasible` (the planner's reason), `pruned` (a constraint),
  `failed` (the error); axes and metrics as JSON text, the seconds it took and the node it ran on;
- `results` (written at the end): the same rows flattened, one column per axis and metric.
Each update is its own transaction: a kill -9 loses at most the points still running.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from tokenfab.errors import InputError

DONE = ("ok", "infeasible", "pruned", "failed")


class Store:
    def __init__(self, path: Path):
        import duckdb

        self.path = Path(path)
        self.con = duckdb.connect(str(self.path))

    @classmethod
    def create(cls, path: Path, name: str, fingerprint: str, points) -> Store:
        """Built under a temporary name and renamed into place: a store exists whole or not at all."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.new")
        for old in (tmp, tmp.with_name(tmp.name + ".wal")):
            old.unlink(missing_ok=True)
        s = cls(tmp)
        s.con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        s.con.execute(
            "CREATE TABLE points (point INTEGER PRIMARY KEY, design VARCHAR, axes VARCHAR, status VARCHAR, "
            "error VARCHAR, metrics VARCHAR, seconds DOUBLE, node VARCHAR)"
        )
        s.con.execute("BEGIN")
        s.con.executemany(
            "INSERT INTO meta VALUES (?, ?)", [("name", name), ("fingerprint", fingerprint), ("points", str(len(points)))]
        )
        s.con.executemany(
            "INSERT INTO points VALUES (?, ?, ?, 'pending', '', '', 0, '')",
            [(p.number, p.design, json.dumps(p.axes, sort_keys=True, default=str)) for p in points],
        )
        s.con.execute("COMMIT")
        s.con.execute("CHECKPOINT")
        s.close()
        os.replace(tmp, path)
        return cls(path)

    @classmethod
    def resume(cls, path: Path, fingerprint: str) -> Store:
        s = cls(path)
        try:
            row = s.con.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        except duckdb_error():
            s.close()
            raise InputError(f"--resume: {path} is not a sweep's store") from None
        if row is None or row[0] != fingerprint:
            s.close()
            raise InputError(
                f"--resume: {path} was written by a different sweep (its axes, sampling, base or catalog files differ); "
                "run it to a new folder or pass --force to start again"
            )
        return s

    def pending(self) -> list[int]:
        return [r[0] for r in self.con.execute("SELECT point FROM points WHERE status = 'pending' ORDER BY point").fetchall()]

    def counts(self) -> dict[str, int]:
        return dict(self.con.execute("SELECT status, count(*) FROM points GROUP BY status").fetchall())

    def record(
        self,
        point: int,
        status: str,
        metrics: dict[str, Any] | None = None,
        error: str = "",
        seconds: float = 0.0,
        node: str = "",
    ) -> None:
        """One point's outcome, once: a point already finished is never written again."""
        self.con.execute(
            "UPDATE points SET status = ?, error = ?, metrics = ?, seconds = ?, node = ? WHERE point = ? AND status = 'pending'",
            [status, error, json.dumps(metrics or {}, sort_keys=True), seconds, node, point],
        )

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for point, axes, status, error, metrics in self.con.execute(
            "SELECT point, axes, status, error, metrics FROM points ORDER BY point"
        ).fetchall():
            row = {"point": point, **json.loads(axes), "status": status, "reason": error}
            row.update(json.loads(metrics) if metrics else {})
            out.append(row)
        return out

    def nodes(self) -> dict[int, str]:
        return dict(self.con.execute("SELECT point, node FROM points").fetchall())

    def write_results(self, csv_path: Path, parquet_path: Path) -> None:
        """The flat `results` table (from results.csv) and its Parquet copy."""
        self.con.execute(
            "CREATE OR REPLACE TABLE results AS SELECT * FROM read_csv_auto(?, header=true, all_varchar=false)", [str(csv_path)]
        )
        tmp = parquet_path.with_name(f".{parquet_path.name}.tmp")
        self.con.execute(f"COPY results TO '{tmp}' (FORMAT PARQUET)")
        os.replace(tmp, parquet_path)

    def close(self) -> None:
        self.con.close()


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def results_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(rows), lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
