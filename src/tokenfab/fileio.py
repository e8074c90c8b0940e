"""Reading users' files and writing CSV: one place for the error messages people see.

Every YAML or JSON file a user hands tokenfab (intent, factory, sweep, catalog, fabric.json) is
read here, so the guards live once: UTF-8 only, duplicate keys refused, NaN/Infinity refused in
JSON, nesting depth and alias expansion bounded, integers of more than a few hundred digits
refused, and an error quotes at most a short excerpt of what it read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tokenfab.errors import InputError, excerpt, shorten

MAX_YAML_BYTES = 16 * 2**20  # a hand-written file; a larger one is a mistake or an attack
MAX_JSON_BYTES = 1 * 2**30  # fabric.json of the largest fabrics is a few hundred MB
MAX_DEPTH = 64  # no tokenfab file nests more than ~8 levels
MAX_NODES = 2_000_000  # values after alias expansion (an alias bomb expands to billions)
MAX_INT_DIGITS = 100  # larger than any count or size tokenfab takes, far below Python's 4,300


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_YAML_BYTES) -> str:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise InputError(f"cannot read {what} {path}: it is a folder") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: {what} is larger than {max_bytes // 2**20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8"
        ) from None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys and huge integers."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the base constructor explains it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {excerpt(key)} (first at line {first.start_mark.line + 1})", key_node.start_mark
            )
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    digits = sum(c.isdigit() for c in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS} are accepted)", node.start_mark
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def check_shape(data: Any, source: str) -> Any:
    """Refuse data nested deeper than MAX_DEPTH or with more than MAX_NODES values once aliases
    are expanded (YAML aliases share objects, so the parse is small but every later copy is not)."""
    budget = MAX_NODES - 1  # the document itself
    # Only containers are visited (a config has far more scalars): each pays for its values (and a
    # dict for its keys too), and its values sit one level deeper.
    stack: list[tuple[Any, int]] = [(data, 0)] if isinstance(data, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        values = node.values() if isinstance(node, dict) else node
        budget -= 2 * len(node) if isinstance(node, dict) else len(node)
        if budget < 0:
            raise InputError(f"{source}: more than {MAX_NODES:,} values once YAML aliases are expanded (an alias bomb?)")
        if node and depth + 1 > MAX_DEPTH:
            raise InputError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        stack.extend((v, depth + 1) for v in values if isinstance(v, (dict, list)))
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: where and what (PyYAML's own text spans lines and quotes the source)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + shorten(what)


def parse_yaml(text: str, source: str) -> Any:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise InputError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. a float or int literal Python refuses
        raise InputError(f"{source}: not valid YAML: {shorten(str(exc))}") from None
    return check_shape(data, source)


def load_yaml(path: str | Path, what: str = "file") -> Any:
    return parse_yaml(read_text(path, what), str(path))


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {excerpt(key)}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number tokenfab accepts (use a finite value)")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(text)


def parse_json(text: str, source: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON ({shorten(exc.msg)} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InputError(f"{source}: not valid JSON ({shorten(str(exc))})") from None
    return check_shape(data, source)


def load_json(path: str | Path, what: str = "file") -> Any:
    return parse_json(read_text(path, what, MAX_JSON_BYTES), str(path))


def csv_text(header: list[str], rows: Iterable[Iterable]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_atomic(path: str | Path, text: str) -> None:
    """Write one file whole or not at all: readers never see half of it. The temporary name is unique per
    process and thread, so concurrent writers of the same file (a server's requests, workers) never share one."""
    import os
    import threading

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
