"""fabric.json checked on load: its own JSON Schema, then the invariants a schema cannot say.

A plan folder is an artefact people edit, copy and corrupt. Every stage reads it through
`Fabric.load`, so a bad file is refused here with the field at fault, never as a TypeError deep
in a later stage. The tables' rows (hundreds of thousands on a large fabric) are checked column
by column with numpy instead of row by row by the schema validator, which would take minutes.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

import numpy as np

from tokenfab.errors import InputError, excerpt, shorten

TABLES = ("devices", "links", "subnets")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP = re.compile(rf"({_OCTET}\.){{3}}{_OCTET}|")
_IP_LEN = re.compile(rf"({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?[0-9])|")
# text columns that later stages parse as addresses ("" where a device has none)
IP_COLUMNS = (
    ("devices", "loopback", _IP),
    ("devices", "mgmt", _IP_LEN),
    ("links", "a_ip", _IP),
    ("links", "b_ip", _IP),
    ("subnets", "prefix", _IP_LEN),
    ("subnets", "gateway", _IP),
)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    from tokenfab.design.model import json_schema

    schema = copy.deepcopy(json_schema())
    for name in TABLES:  # rows are checked by _check_rows, all at once
        schema["properties"][name]["properties"]["rows"] = {"type": "array"}
    for part in ("design", "expectations"):  # typed models: Fabric.from_json_obj names their fields in pydantic's words
        schema["properties"][part] = {"type": "object"}
    return jsonschema.Draft202012Validator(schema)


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_fabric_obj(obj: dict, source: str) -> None:
    """InputError naming the first field at fault (and how many more there are)."""
    errors = sorted(_validator().iter_errors(obj), key=lambda e: (len(e.absolute_path), _where(e.absolute_path)))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InputError(f"{source}: {_where(e.absolute_path)}: {_message(e)}{more}")
    # `design` and `expectations` are typed in fabric.schema.json (design/contract.py): checked above
    from tokenfab.design.model import FLOAT_COLUMNS, INT_COLUMNS, NAME_COLUMNS

    for name in TABLES:
        table = obj[name]
        columns, rows = table["columns"], table["rows"]
        if set(map(type, rows)) - {list}:
            i = next(i for i, r in enumerate(rows) if type(r) is not list)
            raise InputError(f"{source}: {name}.rows.{i}: expected a row (array), got {excerpt(rows[i])}")
        lengths = set(map(len, rows))
        if lengths - {len(columns)}:
            i = next(i for i, r in enumerate(rows) if len(r) != len(columns))
            raise InputError(f"{source}: {name}.rows.{i}: {len(rows[i])} values for {len(columns)} columns")
        for k, col in enumerate(columns):
            values = [r[k] for r in rows]
            ok: set[type]
            if col in INT_COLUMNS - NAME_COLUMNS:
                ok, what = {int}, "an integer"
            elif col in FLOAT_COLUMNS:
                ok, what = {int, float}, "a number"
            else:
                ok, what = {str}, "text"
            bad: list[int] = []
            if set(map(type, values)) - ok:  # at C speed; the row numbers only when something is wrong
                bad = [i for i, v in enumerate(values) if type(v) not in ok]
            elif ok == {int} and values and not (0 <= min(values) and max(values) < 2**32):
                # counts, numbers and ASNs: unsigned 32-bit at most (numpy holds them as int64)
                bad = [i for i, v in enumerate(values) if not 0 <= v < 2**32]
                what = "an integer from 0 to 4294967295"
            if bad:
                i = bad[0]
                raise InputError(
                    f"{source}: {name}.rows.{i}.{col}: expected {what}, got {excerpt(values[i])}"
                    + (f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else "")
                )
    for name, col, pattern in IP_COLUMNS:
        columns = obj[name]["columns"]
        k = columns.index(col)
        values = [r[k] for r in obj[name]["rows"]]
        if not all(map(pattern.fullmatch, values)):  # at C speed; the row only when something is wrong
            i = next(i for i, v in enumerate(values) if not pattern.fullmatch(v))
            raise InputError(
                f"{source}: {name}.rows.{i}.{col}: expected "
                f"{'an IPv4 address/prefix length' if '/' in pattern.pattern else 'an IPv4 address'} "
                f"or empty, got {excerpt(values[i])}"
            )
    names = [r[0] for r in obj["devices"]["rows"]]
    uniq: Any
    counts: Any
    uniq, counts = np.unique(np.asarray(names, dtype=object).astype(str), return_counts=True) if names else ([], [])
    dup = [str(n) for n, c in zip(uniq, counts) if c > 1]
    if dup:
        raise InputError(f"{source}: devices: device name {dup[0]!r} appears more than once")
    known = set(names)
    for name, cols in (("links", ("a", "b")), ("subnets", ("leaf",))):
        columns = obj[name]["columns"]
        for col in cols:
            k = columns.index(col)
            values = [r[k] for r in obj[name]["rows"]]
            if not known.issuperset(values):
                i = next(i for i, v in enumerate(values) if v not in known)
                raise InputError(f"{source}: {name}.rows.{i}.{col}: names unknown device {excerpt(values[i])}")
    links = obj["links"]
    ends = {c: np.asarray([r[links["columns"].index(c)] for r in links["rows"]], dtype=object) for c in ("a", "b")}
    same: np.ndarray | list[int] = np.flatnonzero(ends["a"] == ends["b"]) if len(links["rows"]) else []
    if len(same):
        raise InputError(f"{source}: links.rows.{same[0]}: a link from {excerpt(ends['a'][same[0]])} to itself")
    speed = np.asarray([r[links["columns"].index("speed_gbps")] for r in links["rows"]], dtype=np.int64)
    if len(speed) and speed.min() <= 0:
        i = int(np.argmin(speed))
        raise InputError(f"{source}: links.rows.{i}.speed_gbps: must be > 0, got {speed[i]}")


def _message(e) -> str:
    if e.validator == "type":
        return f"expected {e.validator_value}, got {excerpt(e.instance)}"
    if e.validator == "required" and isinstance(e.instance, dict):
        missing = [k for k in e.validator_value if k not in e.instance]
        return f"required key missing: {', '.join(missing)}"
    if e.validator == "const":
        return f"expected {excerpt(e.validator_value, 200)}, got {excerpt(e.instance)}"
    if e.validator in ("additionalProperties", "unevaluatedProperties"):
        return shorten(e.message, 200)
    return shorten(f"{e.message}", 200) if len(e.message) <= 400 else f"{e.validator} check failed (got {excerpt(e.instance)})"
