"""The `Fabric`: the whole design, the contract every later stage reads.

A columnar core (numpy arrays per column) keeps 100k-GPU fabrics fast; typed views (`Device`,
`Link`) serve callers that want one item. `fabric.json` stores each table as
{"columns": [...], "rows": [[...], ...]} with devices named, not numbered, so the file reads well
and stays stable when the fabric grows.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tokenfab.design.contract import DesignSummary, Expectations
from tokenfab.errors import InputError
from tokenfab.intent import Intent, parse_intent, validated

SCHEMA_ID = "tokenfab.fabric/1"

DEVICE_COLUMNS = (
    "name",
    "role",
    "model",
    "hwsku",
    "platform",
    "plane",
    "pod",
    "su",
    "rail",
    "group",
    "asn",
    "loopback",
    "mgmt",
    "mac",
    "rack",
)
LINK_COLUMNS = ("kind", "a", "a_port", "b", "b_port", "speed_gbps", "plane", "a_ip", "b_ip", "prefix_len", "length_m", "medium")
SUBNET_COLUMNS = ("leaf", "rail", "vlan", "prefix", "gateway")
# Integer columns; every other column is text. IPs are text ("" when none).
INT_COLUMNS = {"plane", "pod", "su", "rail", "group", "asn", "speed_gbps", "prefix_len", "vlan", "a", "b", "leaf"}
NAME_COLUMNS = {"a", "b", "leaf"}  # row numbers in memory, device names in fabric.json
FLOAT_COLUMNS = {"length_m"}


class Table:
    """Named equal-length columns. Text columns are lists or object arrays; numbers are numpy."""

    def __init__(self, columns: dict[str, Any]):
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: { {k: len(v) for k, v in columns.items()} }")
        self.columns = {
            k: (np.asarray(v) if k in INT_COLUMNS | FLOAT_COLUMNS else np.asarray(v, dtype=object)) for k, v in columns.items()
        }

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def select(self, mask: np.ndarray) -> Table:
        return Table({k: v[mask] for k, v in self.columns.items()})

    def row(self, i: int) -> dict[str, Any]:
        return {k: v[i].item() if isinstance(v[i], np.generic) else v[i] for k, v in self.columns.items()}

    def to_json_obj(self, order: tuple[str, ...]) -> dict:
        cols = [self.columns[c].tolist() for c in order]
        return {"columns": list(order), "rows": [list(r) for r in zip(*cols)]}

    @classmethod
    def from_json_obj(cls, obj: dict, name: str) -> Table:
        try:
            columns, rows = obj["columns"], obj["rows"]
        except (KeyError, TypeError):
            raise InputError(f"fabric.json: table {name!r} needs 'columns' and 'rows'") from None
        data: list[Any] = list(zip(*rows)) if rows else [[] for _ in columns]
        return cls({c: list(v) for c, v in zip(columns, data)})


@dataclass(frozen=True)
class Device:
    name: str
    role: str  # leaf | spine | core | server
    model: str
    hwsku: str
    platform: str
    plane: int  # 1-based; 0 where it does not apply
    pod: int
    su: int
    rail: int
    group: int  # spine group (ASN group) number
    asn: int
    loopback: str
    mgmt: str
    mac: str
    rack: str


@dataclass(frozen=True)
class Link:
    id: str  # "a:port--b:port"
    kind: str  # nic | leaf-spine | spine-core
    a: str
    a_port: str
    b: str
    b_port: str
    speed_gbps: int
    plane: int
    a_ip: str
    b_ip: str
    prefix_len: int
    length_m: float
    medium: str


class Fabric:
    """The planned fabric. Build it with `tokenfab.plan(intent)`; read it with `Fabric.load()`."""

    def __init__(
        self,
        intent: Intent,
        design: DesignSummary | dict,
        devices: Table,
        links: Table,
        subnets: Table,
        expectations: Expectations | dict,
        catalog_layers: tuple = (),
    ):
        self.intent = intent
        self.catalog_layers = tuple(catalog_layers)  # the user catalog files it was planned with
        self.design = design if isinstance(design, DesignSummary) else DesignSummary.model_validate(design)
        self.devices = devices
        self.links = links  # a/b are row numbers into devices
        self.subnets = subnets  # leaf is a row number into devices
        self.expectations = expectations if isinstance(expectations, Expectations) else Expectations.model_validate(expectations)

    # -- typed views ---------------------------------------------------------------------
    @cached_property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.devices["name"].tolist())}

    def device(self, name: str) -> Device:
        if name not in self.index:
            raise InputError(f"no device {name!r} in fabric {self.intent.name!r}")
        return Device(**self.devices.row(self.index[name]))

    def iter_devices(self, role: str | None = None) -> Iterator[Device]:
        roles = self.devices["role"]
        for i in range(len(self.devices)):
            if role is None or roles[i] == role:
                yield Device(**self.devices.row(i))

    def link(self, i: int) -> Link:
        r = self.links.row(i)
        names = self.devices["name"]
        a, b = names[r["a"]], names[r["b"]]
        r.update(a=a, b=b, id=f"{a}:{r['a_port']}--{b}:{r['b_port']}")
        return Link(**r)

    def iter_links(self, kind: str | None = None) -> Iterator[Link]:
        # whole columns to Python values once: indexing numpy arrays row by row costs ~10 us a field
        cols = {k: v.tolist() for k, v in self.links.columns.items()}
        names = self.devices["name"].tolist()
        for values in zip(*cols.values()):
            r = dict(zip(cols, values))
            if kind is None or r["kind"] == kind:
                a, b = names[r["a"]], names[r["b"]]
                r.update(a=a, b=b, id=f"{a}:{r['a_port']}--{b}:{r['b_port']}")
                yield Link(**r)

    def links_of(self, name: str) -> list[Link]:
        i = self.index[name]
        rows = np.flatnonzero((self.links["a"] == i) | (self.links["b"] == i))
        return [self.link(int(r)) for r in rows]

    @property
    def switch_mask(self) -> np.ndarray:
        return self.devices["role"] != "server"

    def counts(self) -> dict[str, int]:
        roles, n = np.unique(self.devices["role"].astype(str), return_counts=True)
        kinds, m = np.unique(self.links["kind"].astype(str), return_counts=True)
        out = {f"{r}s": int(c) for r, c in zip(roles, n)}
        out.update({f"{k} links": int(c) for k, c in zip(kinds, m)})
        return out

    # -- serialisation -------------------------------------------------------------------
    def to_json_obj(self) -> dict:
        names = self.devices["name"]
        links = Table(dict(self.links.columns, a=names[self.links["a"]], b=names[self.links["b"]]))
        subnets = Table(dict(self.subnets.columns, leaf=names[self.subnets["leaf"]]))
        return {
            "schema": SCHEMA_ID,
            "name": self.intent.name,
            "intent": self.intent.model_dump(mode="json"),
            "design": self.design.model_dump(mode="json", exclude_none=True),  # optional keys only when set
            "devices": self.devices.to_json_obj(DEVICE_COLUMNS),
            "links": links.to_json_obj(LINK_COLUMNS),
            "subnets": subnets.to_json_obj(SUBNET_COLUMNS),
            "expectations": self.expectations.model_dump(mode="json"),
            # the user catalog entries it was planned with (absent when only the shipped catalog was used)
            **({"catalog": [layer.to_json_obj() for layer in self.catalog_layers]} if self.catalog_layers else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json_obj(), separators=(",", ":"), sort_keys=False) + "\n"

    @classmethod
    def from_json_obj(cls, obj: dict, source: str = "fabric.json") -> Fabric:
        if not isinstance(obj, dict) or obj.get("schema") != SCHEMA_ID:
            got = obj.get("schema") if isinstance(obj, dict) else type(obj).__name__
            raise InputError(f"{source}: not a tokenfab fabric (expected schema {SCHEMA_ID!r}, got {got!r})")
        from tokenfab.design.check import check_fabric_obj

        check_fabric_obj(obj, source)  # its JSON Schema and invariants: an edited file fails here, by field

        from tokenfab.catalog import activate, active_layers
        from tokenfab.catalog.files import from_json_obj as layers_from_json

        # The fabric's own catalog record, plus what this command adds (--catalog, a factory file's catalog).
        layers = layers_from_json(obj.get("catalog", []), source)
        layers += tuple(x for x in active_layers() if x.origin in ("cli", "factory") and x.key not in {y.key for y in layers})
        activate(layers)
        try:
            intent = parse_intent(obj["intent"], f"{source}: intent", layers=layers)
            devices = Table.from_json_obj(obj["devices"], "devices")
            idx = {n: i for i, n in enumerate(devices["name"].tolist())}
            links = Table.from_json_obj(obj["links"], "links")
            subnets = Table.from_json_obj(obj["subnets"], "subnets")
            for t, cols in ((links, ("a", "b")), (subnets, ("leaf",))):
                for c in cols:
                    try:
                        t.columns[c] = np.array([idx[n] for n in t[c].tolist()], dtype=np.int64)
                    except KeyError as exc:
                        raise InputError(f"{source}: {c} names unknown device {exc.args[0]!r}") from None
            design = validated(DesignSummary, obj["design"], f"{source}: design", "architecture, tiers, ...")
            expectations = validated(
                Expectations, obj["expectations"], f"{source}: expectations", "bgp_sessions, leaf_ecmp_links, ..."
            )
            return cls(intent, design, devices, links, subnets, expectations, catalog_layers=layers)
        except KeyError as exc:
            raise InputError(f"{source}: missing key {exc.args[0]!r}") from None

    @classmethod
    def load(cls, path: str | Path) -> Fabric:
        from tokenfab.fileio import load_json

        path = Path(path)
        if path.is_dir():
            path = path / "fabric.json"
        return cls.from_json_obj(load_json(path, "plan"), str(path))


def json_schema() -> dict:
    """JSON Schema of fabric.json (tables as columns + rows)."""

    def table(columns: tuple[str, ...]) -> dict:
        item = {
            "type": "array",
            "prefixItems": [
                {"type": "integer"}
                if c in INT_COLUMNS - NAME_COLUMNS
                else {"type": "number"}
                if c in FLOAT_COLUMNS
                else {"type": "string"}
                for c in columns
            ],
            "minItems": len(columns),
            "maxItems": len(columns),
        }
        return {
            "type": "object",
            "required": ["columns", "rows"],
            "additionalProperties": False,
            "properties": {"columns": {"const": list(columns)}, "rows": {"type": "array", "items": item}},
        }

    # pydantic's refs are '#/$defs/...': one generation for the three models keeps them at the root
    from pydantic.json_schema import models_json_schema

    keys, top = models_json_schema(
        [(m, "validation") for m in (Intent, DesignSummary, Expectations)], ref_template="#/$defs/{model}"
    )
    defs = top.get("$defs", {})
    intent, design, expectations = (keys[(m, "validation")] for m in (Intent, DesignSummary, Expectations))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "$id": SCHEMA_ID,
        "title": "tokenfab fabric",
        "type": "object",
        "required": ["schema", "name", "intent", "design", "devices", "links", "subnets", "expectations"],
        "properties": {
            "schema": {"const": SCHEMA_ID},
            "name": {"type": "string"},
            "intent": intent,
            "design": design,
            "devices": table(DEVICE_COLUMNS),
            "links": table(LINK_COLUMNS),
            "subnets": table(SUBNET_COLUMNS),
            "catalog": {
                "type": "array",
                "description": "the user catalog files the fabric was planned with",
                "items": {
                    "type": "object",
                    "required": ["source", "sha256", "entries"],
                    "additionalProperties": False,
                    "properties": {
                        "source": {"type": "string"},
                        "sha256": {"type": "string"},
                        "entries": {"type": "object", "description": "entries by kind, as in a catalog file"},
                    },
                },
            },
            "expectations": expectations,
        },
    }


def ip_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text)) if text else 0
