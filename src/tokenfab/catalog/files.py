"""Users' own catalog files: read, validate (every problem at once), and turn into layers.

A catalog file has the shipped files' schema, any subset of the kinds in one file:

    gpus:
      - {model: A100-40GB, bf16_dense_tflops: 312, hbm_gbytes: 40, ...}
    servers:
      - {model: DGX-A100-40GB, gpus: 8, gpu_model: A100-40GB, ...}
    models:
      - {name: my-175b, layers: 96, hidden: 12288, ...}

A folder means every *.yaml / *.yml file in it, in name order. Where the files come from, in
order (a later entry of the same name wins): the user-wide folder ($TOKENFAB_CATALOG, else
~/.config/tokenfab/catalog/), `catalog:` in an intent or factory file (relative to that file),
then `--catalog` on the command line.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from tokenfab.catalog import KINDS, Layer, entry_name
from tokenfab.errors import InputError
from tokenfab.fileio import read_text
from tokenfab.strict import validation_lines

ENV = "TOKENFAB_CATALOG"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: large files parse ~10x faster
SUFFIXES = (".yaml", ".yml")


def user_wide_folder() -> Path | None:
    """$TOKENFAB_CATALOG (a folder or file; empty means none), else ~/.config/tokenfab/catalog/ if present."""
    return _user_wide_folder(os.environ.get(ENV), os.environ.get("HOME"))


@cache
def _user_wide_folder(env: str | None, home: str | None) -> Path | None:
    """Looked up once per setting: every catalog lookup asks for it."""
    if env is not None:
        return Path(env.strip()).expanduser() if env.strip() else None
    folder = Path.home() / ".config" / "tokenfab" / "catalog"
    try:
        return folder if folder.is_dir() else None
    except OSError:  # a home this user may not read (e.g. another user's HOME inherited): no user-wide catalog
        return None


def user_wide_layers() -> tuple[Layer, ...]:
    folder = user_wide_folder()
    return () if folder is None else _user_wide(str(folder))


@cache
def _user_wide(folder: str) -> tuple[Layer, ...]:
    """Read once per process: the catalog is asked for on every lookup."""
    if not Path(folder).exists():
        raise InputError(f"${ENV} names {folder!r}, which does not exist (unset it or point it at a catalog folder or file)")
    return read_layers([folder], origin="user-wide")


def expand(paths: Iterable[str | Path], base: Path | None = None) -> list[tuple[str, Path]]:
    """(shown path, real path) for every file the paths name; folders give their YAML files."""
    out = []
    for given in paths:
        p = Path(given).expanduser()
        real = p if p.is_absolute() or base is None else base / p
        if real.is_dir():
            files = sorted(f for f in real.iterdir() if f.suffix in SUFFIXES and f.is_file())
            if not files:
                raise InputError(f"catalog folder {given} has no .yaml or .yml files")
            out += [(str(Path(given) / f.name), f) for f in files]
        elif real.is_file():
            out.append((str(given), real))
        else:
            raise InputError(f"catalog path {given} does not exist" + (f" (looked in {base})" if base else ""))
    return out


def check_rows(data: object, source: str) -> tuple[dict[str, tuple[dict, ...]], list[str]]:
    """The file's entries by kind, and one line per problem (field path, value, what is accepted)."""
    if data is None:
        return {}, [f"{source}: the file is empty; expected one or more of: {', '.join(KINDS)}"]
    if not isinstance(data, dict):
        return {}, [f"{source}: expected a mapping of kinds ({', '.join(KINDS)}), got {type(data).__name__}"]
    problems: list[str] = []
    entries: dict[str, tuple[dict, ...]] = {}
    for kind, rows in data.items():
        if kind not in KINDS:
            problems.append(f"{source}: {kind}: unknown kind; accepted: {', '.join(KINDS)}")
            continue
        if not isinstance(rows, list):
            problems.append(f"{source}: {kind}: expected a list of entries, got {type(rows).__name__}")
            continue
        seen: set[str] = set()
        good = []
        for i, row in enumerate(rows):
            where = f"{source}: {kind}[{i}]"
            if not isinstance(row, dict):
                problems.append(f"{where}: expected a mapping of fields, got {type(row).__name__}")
                continue
            name = entry_name(kind, row)
            if name:
                where += f" ({name})"
                if name in seen:
                    problems.append(f"{where}: {name!r} is defined twice in this file")
                seen.add(name)
            try:
                KINDS[kind].model_validate(row)
                found = []
            except ValidationError as exc:
                found = [f"{where}: {line}" for line in validation_lines(exc)]
            problems += found
            if not found:
                good.append(row)
        entries[kind] = tuple(good)
    return entries, problems


def parse_file(shown: str, real: Path, origin: str) -> tuple[Layer | None, list[str]]:
    text = read_text(real, "catalog file")
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        return None, [f"{shown}: not valid YAML: {exc}"]
    entries, problems = check_rows(data, shown)
    return Layer(shown, hashlib.sha256(text.encode()).hexdigest(), entries, origin), problems


def read_layers(paths: Iterable[str | Path], base: Path | None = None, origin: str = "file") -> tuple[Layer, ...]:
    """Layers from files/folders, or one InputError naming every problem in all of them."""
    layers, problems = [], []
    for shown, real in expand(paths, base):
        layer, found = parse_file(shown, real, origin)
        problems += found
        if layer is not None:
            layers.append(layer)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the catalog files:\n  " + "\n  ".join(problems))
    return tuple(layers)


def from_json_obj(items: object, source: str = "fabric.json") -> tuple[Layer, ...]:
    """The layers a fabric recorded (its `catalog` key), checked like a file."""
    if not isinstance(items, list):
        raise InputError(f"{source}: catalog: expected a list of catalog layers")
    layers, problems = [], []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict) or not {"source", "sha256", "entries"} <= set(obj):
            problems.append(f"{source}: catalog[{i}]: expected source, sha256 and entries")
            continue
        entries, found = check_rows(obj["entries"], f"{source}: catalog[{i}] ({obj['source']})")
        problems += found
        layers.append(Layer(str(obj["source"]), str(obj["sha256"]), entries, "fabric"))
    if problems:
        raise InputError("; ".join(problems))
    return tuple(layers)
