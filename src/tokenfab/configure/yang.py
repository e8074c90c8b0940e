"""Validate config_db.json against SONiC's own YANG models with libyang (the C library, via PyPI `libyang`).

CONFIG_DB JSON is not RFC 7951 JSON, so it is translated first, the way SONiC's sonic_yang_ext does:
each table goes inside its module's top container and list (`sonic-port:sonic-port` / `PORT` /
`PORT_LIST`), `|`-joined keys are split into the list's keys (the list is the one with that many
keys), "Type-1" map tables (DSCP_TO_TC_MAP ...) become inner lists, and string values become the
leaf's YANG type (numbers for 8/16/32-bit integers, true/false for booleans, strings otherwise;
leafrefs take their target's type; comma strings become leaf-lists).

libyang stops at the first error, so to list every violation the faulty field (or row, for a key
fault) is removed and the rest parsed again, up to `max_errors` per device; leafref errors that only
echo an earlier removal are not reported twice.

A fabric's switches share most of their tables (QUEUE, BUFFER_*, PORT_QOS_MAP ... are the same on
every leaf), so a table found clean is not checked again while neither it nor what it reads changes.
What a table reads comes from the models: the tables and leaves named by the leafref paths and
must/when expressions of the lists and containers it fills (an expression that could read anything,
with `*`, `//`, `deref()` or an axis, makes the table always checked). A table is then clean in this
device exactly when it was clean in an earlier one with the same rows and the same rows and leaves of
what it reads; the tables that must be checked go to libyang with everything they read, transitively,
so each is judged as in the whole file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tokenfab.errors import InputError

_NUMBER = {"int8", "int16", "int32", "uint8", "uint16", "uint32"}
# An expression that can reach data without naming it: wildcards, descendants, deref, axes.
_OPAQUE = re.compile(r"\*|//|\bderef\s*\(|::|\bnode\s*\(")
_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
CLEAN_CACHE_SIZE = 200_000  # signatures of tables found clean, per process


@dataclass(frozen=True)
class _Reads:
    """What a part of one table reads of another: rows of some of its lists (by key count) or
    containers (empty: every row), and those rows' fields named (None: every field)."""

    table: str
    parts: frozenset
    fields: frozenset | None


@dataclass(frozen=True)
class YangError:
    table: str
    key: str
    field: str
    message: str


@dataclass
class _Table:
    module: str
    container: str
    lists: dict[int, tuple[str, list[str], object]]  # key count -> (list name, key names, schema node)
    containers: dict[str, object]  # e.g. DEVICE_METADATA/localhost, SWITCH_HASH/GLOBAL


class Validator:
    """One libyang context with every shipped SONiC model loaded; reuse it for many devices."""

    _list_owner: dict[str, list[tuple[str, int]]]  # list name -> (table, key count)
    _reads_of: dict[tuple[str, int | str], tuple[_Reads, ...] | None]
    _clean: set[bytes]  # signatures of tables found clean

    def __init__(self):
        try:
            import libyang
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise InputError(
                f"validate needs the libyang Python binding (pip install libyang==2.8.0 with Debian's libyang2-dev): {exc}"
            ) from None
        self.ly = libyang
        # With logging on, libyang puts the data path ("Data location ...") into each error.
        import logging

        logging.getLogger("libyang").propagate = False
        libyang.configure_logging(True, logging.ERROR)
        path = str(resources.files("tokenfab.configure").joinpath("yang"))
        self.ctx = libyang.Context(path)
        self.tables: dict[str, _Table] = {}
        names = sorted(
            p.name[:-5] for p in resources.files("tokenfab.configure").joinpath("yang").iterdir() if p.name.endswith(".yang")
        )
        # Load everything before touching schema nodes: loading a module can recompile (and so
        # free) the nodes of those loaded before it.
        mods = [self.ctx.load_module(name) for name in names]
        for name, mod in zip(names, mods):
            for top in mod.children():
                if top.nodetype() != libyang.SNode.CONTAINER:
                    continue
                for tbl in top.children():
                    if tbl.nodetype() != libyang.SNode.CONTAINER:
                        continue
                    lists, conts = {}, {}
                    for ch in tbl.children():
                        if ch.nodetype() == libyang.SNode.LIST:
                            keys = [k.name() for k in ch.keys()]
                            lists.setdefault(len(keys), (ch.name(), keys, ch))
                        elif ch.nodetype() == libyang.SNode.CONTAINER:
                            conts[ch.name()] = ch
                    self.tables[tbl.name()] = _Table(name, top.name(), lists, conts)
        self._conv: dict = {}
        self._keep: list = []  # schema node wrappers whose id() keys self._conv
        self._list_owner = {}
        for tname, t in self.tables.items():
            for count, (lname, _, _) in t.lists.items():
                self._list_owner.setdefault(lname, []).append((tname, count))
        self._reads_of = {}
        self._clean = set()

    # -- translation ---------------------------------------------------------------------
    def _leaf_kinds(self, node) -> dict[str, tuple[str, set[str]]]:
        """child leaf name -> ("leaf" | "leaf-list" | "list", base type names)."""
        key = id(node)  # the schema node wrappers live as long as self.tables / self._inner
        if key not in self._conv:
            out = {}
            for ch in node.children():
                nt = ch.nodetype()
                if nt in (self.ly.SNode.LEAF, self.ly.SNode.LEAFLIST):
                    out[ch.name()] = ("leaf" if nt == self.ly.SNode.LEAF else "leaf-list", set(ch.type().basenames()))
                elif nt == self.ly.SNode.LIST:
                    out[ch.name()] = ("list", set())
            self._conv[key] = out
        return self._conv[key]

    def _inner_list(self, node):
        """For a map table's list: (inner list, its key, its value leaf, key types, value types), else None."""
        key = ("inner", id(node))
        if key not in self._conv:
            found = None
            for ch in node.children():
                if ch.nodetype() == self.ly.SNode.LIST:
                    self._keep.append(ch)
                    ikeys = [k.name() for k in ch.keys()]
                    kinds = self._leaf_kinds(ch)
                    leaf = next(n for n, k in kinds.items() if k[0] == "leaf" and n not in ikeys)
                    found = (ch.name(), ikeys[0], leaf, kinds[ikeys[0]][1], kinds[leaf][1])
                    break
            self._conv[key] = found
        return self._conv[key]

    @staticmethod
    def _value(text, bases: set[str]):
        if not isinstance(text, str):
            return text
        if bases & _NUMBER and re.fullmatch(r"-?\d+", text):
            return int(text)
        if "boolean" in bases and text in ("true", "false"):
            return text == "true"
        if "empty" in bases and text == "":
            return [None]
        return text

    def _fields(self, node, row: dict) -> dict:
        kinds = self._leaf_kinds(node)
        out = {}
        for field, value in row.items():
            kind, bases = kinds.get(field, ("leaf", set()))
            if kind == "leaf-list":
                items = value if isinstance(value, list) else [v for v in str(value).split(",") if v]
                out[field] = [self._value(v, bases) for v in items]
            else:
                out[field] = self._value(value, bases)
        return out

    def translate(self, config: dict) -> tuple[dict, list[YangError]]:
        """CONFIG_DB JSON -> RFC 7951 JSON, plus the rows that cannot be placed in any model."""
        data: dict[str, dict] = {}
        errors: list[YangError] = []
        for table, rows in config.items():
            t = self.tables.get(table)
            if t is None:
                errors.append(YangError(table, "", "", "no SONiC YANG model defines this table"))
                continue
            if not isinstance(rows, dict):
                errors.append(YangError(table, "", "", f"a table must be an object of rows, not {type(rows).__name__}"))
                continue
            body = data.setdefault(f"{t.module}:{t.container}", {}).setdefault(table, {})
            for key, row in rows.items():
                if not isinstance(row, dict):
                    errors.append(YangError(table, key, "", "a row must be an object of fields"))
                    continue
                if key in t.containers:
                    body[key] = self._fields(t.containers[key], row)
                    continue
                parts = key.split("|")
                if len(parts) not in t.lists:
                    errors.append(
                        YangError(
                            table,
                            key,
                            "",
                            f"key has {len(parts)} part(s); the model's lists take "
                            f"{' or '.join(str(n) for n in sorted(t.lists)) or 'none'}",
                        )
                    )
                    continue
                lname, keys, node = t.lists[len(parts)]
                kinds = self._leaf_kinds(node)
                entry = {k: self._value(v, kinds.get(k, ("leaf", set()))[1]) for k, v in zip(keys, parts)}
                inner = self._inner_list(node)
                if inner:  # Type-1 map table: {"AZURE": {"3": "3"}} -> inner list of {dscp, tc}
                    iname, ikey, ileaf, kb, lb = inner
                    entry[iname] = [{ikey: self._value(f, kb), ileaf: self._value(v, lb)} for f, v in row.items()]
                else:
                    entry.update(self._fields(node, row))
                body.setdefault(lname, []).append(entry)
        return data, errors

    # -- what a table reads, and its signature -------------------------------------------
    def _expressions(self, node) -> list[str] | None:
        """leafref paths and must/when expressions of a list or container, its descendants and its
        ancestors; None when one of them can read data it does not name."""
        out: list[str] = []
        up = node.parent()
        while up is not None:
            out += list(up.must_conditions()) + list(up.when_conditions())
            up = up.parent()
        for n in node.iter_tree():
            out += list(n.must_conditions()) + list(n.when_conditions())
            if n.nodetype() in (self.ly.SNode.LEAF, self.ly.SNode.LEAFLIST):
                types = [n.type()]
                while types:
                    t = types.pop()
                    base = t.base()
                    if base == self.ly.Type.LEAFREF:
                        out.append(t.leafref_path())
                    elif base == self.ly.Type.UNION:
                        types += list(t.union_types())
                    elif base == self.ly.Type.INST:  # instance-identifier: the data names the target
                        return None
        return out

    def _reads(self, table: str, part: int | str) -> tuple[_Reads, ...] | None:
        """What the rows of `table` in `part` (a list's key count or a container's name) read of
        other tables; None when that cannot be told from the models."""
        key = (table, part)
        if key not in self._reads_of:
            t = self.tables[table]
            node = t.lists[part][2] if isinstance(part, int) else t.containers[part]
            found: dict[str, tuple[set, set | None]] = {}
            exprs = self._expressions(node)
            for expr in exprs or ():
                if _OPAQUE.search(_QUOTED.sub("''", expr)):
                    exprs = None
                    break
                names = set(_NAME.findall(_QUOTED.sub("''", expr).replace(":", " ")))
                targets = {n for n in names if n in self.tables}
                targets |= {owner for n in names for owner, _ in self._list_owner.get(n, ())}
                for u in targets - {table}:
                    other = self.tables[u]
                    parts = {c for c, (ln, _, _) in other.lists.items() if ln in names} | {
                        c for c in other.containers if c in names
                    }
                    # map tables keep their entries in an inner list: read them whole
                    whole = any(self._inner_list(nd) for _, _, nd in other.lists.values())
                    have = found.setdefault(u, (set(), set()))
                    if not parts:
                        have[0].add("*")
                    have[0].update(parts)
                    fields = None if whole or have[1] is None else have[1] | names
                    found[u] = (have[0], fields)
            self._reads_of[key] = (
                None
                if exprs is None
                else tuple(
                    _Reads(u, frozenset() if "*" in parts else frozenset(parts), None if fields is None else frozenset(fields))
                    for u, (parts, fields) in sorted(found.items())
                )
            )
        return self._reads_of[key]

    def _part(self, table: str, key: str) -> int | str:
        return key if key in self.tables[table].containers else key.count("|") + 1

    def _judged_alone(self, config: dict, table: str) -> bool:
        rows = config[table]
        return table in self.tables and isinstance(rows, dict) and all(isinstance(r, dict) for r in rows.values())

    def _table_reads(self, config: dict, table: str) -> tuple[_Reads, ...] | None:
        reads: set[_Reads] = set()
        for part in {self._part(table, k) for k in config[table]}:
            if not isinstance(part, str) and part not in self.tables[table].lists:
                continue  # a key the models have no list for: translate reports it
            r = self._reads(table, part)
            if r is None:
                return None
            reads.update(r)
        return tuple(sorted(reads, key=lambda r: (r.table, sorted(map(str, r.parts)), sorted(r.fields or ()))))

    def _projection(self, config: dict, r: _Reads) -> list:
        rows = config.get(r.table)
        if not isinstance(rows, dict):
            return [repr(rows)]
        out = []
        for key, row in rows.items():
            if r.parts and self._part(r.table, key) not in r.parts:
                continue
            if r.fields is None or not isinstance(row, dict):
                out.append([key, row])
            else:
                out.append([key, {f: row[f] for f in r.fields & row.keys()}])
        return out

    def _signatures(self, config: dict) -> tuple[dict[str, bytes | None], dict[str, tuple[_Reads, ...] | None]]:
        """Per table, a digest of its rows and of the rows and leaves of what it reads (None when the
        table is not judged alone: no model, not an object of rows, or it may read anything), and
        what each reads."""

        def digest(obj) -> bytes:
            return hashlib.blake2b(json.dumps(obj, sort_keys=True).encode(), digest_size=20).digest()

        reads = {t: self._table_reads(config, t) if t in self.tables and isinstance(config[t], dict) else None for t in config}
        seen: dict[_Reads, bytes] = {}
        out: dict[str, bytes | None] = {}
        for table, rs in reads.items():
            if rs is None or not self._judged_alone(config, table):
                out[table] = None
                continue
            # the module's other tables present: with its module in the data, libyang also checks
            # what the module demands of its absent tables (mandatory nodes, min-elements)
            module = self.tables[table].module
            mates = sorted(t for t in config if t in self.tables and self.tables[t].module == module)
            h = hashlib.blake2b(digest([table, mates, config[table]]), digest_size=20)
            for r in rs:
                if r not in seen:
                    seen[r] = digest([r.table, sorted(map(str, r.parts)), self._projection(config, r)])
                h.update(seen[r])
            out[table] = h.digest()
        return out, reads

    def _closure(self, config: dict, tables: set[str], reads: dict[str, tuple[_Reads, ...] | None]) -> set[str] | None:
        """The tables and everything they read, transitively; None: the whole file."""
        todo, out = list(tables), set(tables)
        while todo:
            t = todo.pop()
            if t not in self.tables or not isinstance(config[t], dict):
                continue
            rs = reads[t]
            if rs is None:
                return None
            for r in rs:
                if r.table in config and r.table not in out:
                    out.add(r.table)
                    todo.append(r.table)
        return out

    # -- validation ----------------------------------------------------------------------
    def _parse(self, data: dict) -> str | None:
        try:
            tree = self.ctx.parse_data_mem(json.dumps(data), "json", strict=True, no_state=True, validate_present=True)
        except self.ly.LibyangError as exc:
            return str(exc)
        if tree is not None:
            tree.free()
        return None

    def validate(self, config: dict, max_errors: int = 25, reuse: bool = True) -> list[YangError]:
        """Every violation of the models in one CONFIG_DB file (up to `max_errors`), checking only
        the tables not already found clean with the same rows and the same reads (`reuse=False`:
        the whole file, every time)."""
        if not reuse:
            return self._validate_all(config, max_errors)[0]
        signatures, reads = self._signatures(config)
        todo = {t for t, sig in signatures.items() if sig is None or sig not in self._clean}
        if not todo:
            return []
        closure = self._closure(config, todo, reads)
        part = config if closure is None else {t: rows for t, rows in config.items() if t in closure}
        errors, finished, touched = self._validate_all(part, max_errors)
        if finished:
            if len(self._clean) > CLEAN_CACHE_SIZE:
                self._clean.clear()
            self._clean.update(sig for t, sig in signatures.items() if t in part and t not in touched and sig is not None)
        return errors

    def _validate_all(self, config: dict, max_errors: int) -> tuple[list[YangError], bool, set[str]]:
        """(violations, whether libyang accepted what was left at the end, tables with a fault)."""
        data, errors = self.translate(config)
        touched = {e.table for e in errors}
        dropped: set[tuple[str, str]] = set()  # rows removed whole: later leafrefs to them are echoes
        finished = False
        for _ in range(4 * max_errors):
            msg = self._parse(data)
            if msg is None:
                finished = len(errors) < max_errors
                break
            if len(errors) >= max_errors:
                break
            err = _locate(msg)
            touched.add(err.table)
            ref = re.match(r'Invalid leafref value "([^"]*)" - no target instance "/[\w-]+:[\w-]+/[\w-]+:([\w-]+)/', err.message)
            echo = ref and ((ref.group(2), ref.group(1)) in dropped or (ref.group(2), "") in dropped)
            self._hint = ""
            removed = self._drop(data, err)
            if not echo:
                errors.append(YangError(err.table, err.key, self._hint or err.field, err.message))
            if removed is None:
                break
            if removed:
                dropped.add(removed)
        # a fault of a table the file does not have is its module's: none of the module's tables is clean
        absent = {self.tables[t].module for t in touched if t not in config and t in self.tables}
        touched |= {t for t in config if t in self.tables and self.tables[t].module in absent}
        return errors, finished and "" not in touched, touched

    def _entry_ok(self, module: str, table: str, lname: str, entry: dict) -> bool:
        doc = {module: {table: {lname: [entry]}}}
        try:
            tree = self.ctx.parse_data_mem(json.dumps(doc), "json", strict=True, parse_only=True)
        except self.ly.LibyangError:
            return False
        if tree is not None:
            tree.free()
        return True

    def _drop(self, data: dict, err: YangError) -> tuple[str, str] | tuple[()] | None:
        """Remove the faulty field (or, for a key or row-level fault, the row; for a table-level
        fault, the table) so that parsing goes on to the next error without cascading.
        Returns the (table, key) removed whole, () when only a field went, None when stuck."""
        for module, top in data.items():
            if err.table not in top:
                continue
            tbl = top[err.table]
            if not err.key:
                del top[err.table]
                return (err.table, "")
            if err.key in tbl and isinstance(tbl[err.key], dict):  # a container row (DEVICE_METADATA/localhost)
                row = tbl[err.key]
                if err.field and err.field in row:
                    del row[err.field]
                    return ()
                del tbl[err.key]
                return (err.table, err.key)
            parts = err.key.split("|")
            for lname, entries in tbl.items():
                if not isinstance(entries, list):
                    continue
                for e in entries:
                    if [str(v) for v in list(e.values())[: len(parts)]] != parts:
                        continue
                    keys = list(e)[: len(parts)]
                    inner = [k for k, v in e.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
                    if inner and err.field:  # map table: drop the faulty inner entries only
                        lst = e[inner[0]]
                        kept = [x for x in lst if str(next(iter(x.values()))) != err.field]
                        if len(kept) == len(lst):
                            head = {k: e[k] for k in keys}
                            kept = [x for x in lst if self._entry_ok(module, err.table, lname, head | {inner[0]: [x]})]
                            self._hint = ",".join(str(next(iter(x.values()))) for x in lst if x not in kept)
                        if len(kept) < len(lst):
                            e[inner[0]] = kept
                            return ()
                    if err.field and err.field in e and err.field not in keys:
                        del e[err.field]
                        return ()
                    entries.remove(e)
                    return (err.table, err.key)
            del top[err.table]
            return (err.table, "")
        return None


_PRED = re.compile(r"\[([\w-]+)='([^']*)'\]")


def _locate(msg: str) -> YangError:
    """Turn libyang's message (with its data path) into table / key / field."""
    text = msg.removeprefix("failed to parse data tree: ")
    m = re.search(r'Data location "([^"]+)"', text)
    path = m.group(1) if m else ""
    text = re.split(r"\.?: (?:Data|Schema) location", text)[0]
    steps = [s for s in re.split(r"/(?![^\[]*\])", path) if s]
    table = key = field = ""
    if len(steps) >= 2:
        table = steps[1].split(":")[-1]
        rest = steps[2:]
        keys: list[str] = []
        inner = ""
        for i, step in enumerate(rest):
            preds = _PRED.findall(step)
            base = _PRED.sub("", step)
            if i == 0:
                keys = [v for _, v in preds] if preds else ([base] if not base.endswith("_LIST") else [])
            elif preds:  # inner list of a map table: the field is the inner key
                inner = preds[0][1]
            elif not base.endswith("_LIST"):
                field = base.split(":")[-1]
        key = "|".join(keys)
        if inner:
            field = inner
    unknown = re.match(r'Node "([^"]+)" not found as a child', text)
    if unknown and not field:
        field = unknown.group(1)
    return YangError(table, key, field, " ".join(text.split()))


@cache
def validator() -> Validator:
    return Validator()
