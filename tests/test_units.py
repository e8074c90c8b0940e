"""One unit convention in names: `_gbps` for link bits, `_bytes_per_s` (or `_gbytes_per_s`, ...) for
byte rates, `_bytes`/`_mbytes`/`_gbytes`/`_tbytes` for sizes. Suffixes that leave bits vs bytes, or
the unit itself, open are refused in every model and dataclass field under src/."""

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tokenfab"
RULES = [
    (re.compile(r"_(k|m|g|t|p)i?b(_|$)", re.I), "bits or bytes? sizes are _bytes, _mbytes, _gbytes, _tbytes"),
    (re.compile(r"_(?!gbps$)[kmgtp]?bps$"), "link bits are _gbps; byte rates are _bytes_per_s"),
    (re.compile(r"_[KMGTP]?Bps$"), "byte rates are _bytes_per_s (or _gbytes_per_s, ...)"),
    (re.compile(r"_[kmgtp]?bs$", re.I), "link bits are _gbps; byte rates are _bytes_per_s"),
    (re.compile(r"(^|_)rate$"), "a bare rate: name its unit (_bytes_per_s, _per_s, _gbps)"),
]
# Fields allowed an ambiguous suffix anyway: none. A renamed key of a user's file keeps loading
# through `Renamed.RENAMED` (factory/spec/common.py), with a deprecation note; never add one here.
KNOWN: set[str] = set()


def _fields() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                out += [
                    f"{rel}:{node.name}.{b.target.id}"
                    for b in node.body
                    if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                ]
    return out


def _why(name: str) -> str | None:
    return next((why for rule, why in RULES if rule.search(name)), None)


def test_rules_refuse_ambiguous_suffixes_and_accept_the_convention():
    for bad in (
        "hbm_tbps",
        "size_gb",
        "buffer_mb",
        "link_mbps",
        "read_Bps",
        "write_GBps",
        "rate",
        "arrival_rate",
        "disk_gbs",
        "mem_gib",
        "usd_per_tb_month",
    ):
        assert _why(bad), bad
    for good in (
        "speed_gbps",
        "hbm_tbytes_per_s",
        "size_bytes",
        "hbm_gbytes",
        "buffer_mbytes",
        "latency_s",
        "power_w",
        "price_usd",
        "nvlink_gbytes_per_s_per_direction",
        "requests_per_s",
        "ecn_min_bytes",
        "count_per_microbatch",
        "bisection_gbps",
    ):
        assert _why(good) is None, good


def test_no_field_has_an_ambiguous_unit_suffix():
    fields = _fields()
    assert len(fields) > 300  # the scan reads the whole package
    bad = [f"{f}: {_why(f.rsplit('.', 1)[1])}" for f in fields if _why(f.rsplit(".", 1)[1]) and f not in KNOWN]
    assert bad == [], "\n".join(bad)


def test_renamed_keys_go_from_a_refused_suffix_to_the_convention():
    from tokenfab.factory.spec import Renamed

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    renamed = [(m, old, new) for m in subclasses(Renamed) for old, new in m.RENAMED.items()]
    assert len(renamed) == 8  # the eight keys users wrote (size_gb in two models)
    for model, old, new in renamed:
        assert _why(old) and _why(new) is None, (model.__name__, old, new)
        assert new in model.model_fields and old not in model.model_fields
