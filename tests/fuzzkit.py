"""Fuzz cases for every input a user types or a file holds, and the invariant each must keep.

Shared by tests/test_fuzz.py (a bounded number of cases in `make test`) and benchmarks/fuzz.py
(thousands). Each case runs the real CLI in-process (typer's CliRunner) and must end in one of:
exit 0 with its complete output, or exit 2 with a one-line error under a few KB; never a
traceback, a hang, or a partial or temporary folder left behind.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASE_TIMEOUT_S = 60.0  # a case slower than this is a hang
MAX_ERROR_BYTES = 4096

# -- the bases every case mutates -----------------------------------------------------------
INTENT = {
    "name": "fz",
    "cluster": {"servers": 4, "gpus_per_server": 4},
    "fabric": {"architecture": "rail-optimized", "leaf": {"oversubscription": 1.0}},
    "racks": {"power_budget_kw": 40.0, "rack_units": 42},
    "prices_usd": {"H100": 30000.0},
}
FACTORY = {
    "name": "fz",
    "fabric": "intent.yaml",
    "window_h": 1,
    "tick_min": 10,
    "request_bin_s": 10,
    "network": {"model": "analytical"},
    "failures": {"interruptions": 419, "days": 54, "scale": 1.0},
    "jobs": [
        {
            "name": "j",
            "count": 1,
            "training": {"model": "llama3-8b", "seq_len": 2048, "global_batch": 16, "parallelism": {"tp": 4, "dp": 2}},
        }
    ],
}


def demo_factory() -> dict:
    """examples/factory-demo.yaml (all seven layers) over 2 h, without its variant: the base for
    mutations of the sections the small FACTORY lacks (services, storage, data, lifecycles)."""
    data = yaml.safe_load((EXAMPLES / "factory-demo.yaml").read_text())
    data.pop("compare", None)
    return dict(data, window_h=2, fabric=str(EXAMPLES / data["fabric"]))


SWEEP = {
    "name": "fz",
    "base": "intent.yaml",
    "axes": [{"path": "fabric.leaf.oversubscription", "values": [1, 2]}],
    "objectives": [{"metric": "network_cost_usd", "goal": "min"}, {"metric": "uplink_gbps_per_gpu", "goal": "max"}],
}
SIMULATE = ["-b", "1M", "-e", "4M", "-f", "2"]
SIM_OPTIONS = [
    "-b",
    "-e",
    "-f",
    "-i",
    "--gpus",
    "--qps",
    "--channels",
    "--loss",
    "--latency",
    "--jitter",
    "--seeds",
    "--seed",
    "--efficiency",
    "--rto-us",
    "--gpu-idle",
    "--degrade",
    "--fail",
    "--collective",
    "--algo",
    "--routing",
    "--recovery",
    "--dtype",
]

# -- values nobody should type, and some they would --------------------------------------------
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 7, 64, 10**9, 10**18, 2**63, -(10**12), 0.5, 1e-300, 1e300, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**40), 10**40),
)
HOSTILE = st.one_of(
    NUMBERS,
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "on", ".nan", ".inf", "1e999", "0x10", "NaN", "H100", "", "🙂" * 4]),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.sampled_from(["a", "servers", "x"]), st.integers(-5, 5), max_size=2),
)
OPTION_VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "-1",
            "0",
            "1",
            "2",
            "1e300",
            "1e300G",
            "1e-300",
            "99999999999999999999",
            "1G",
            "16G",
            "64K",
            "0.5",
            "yes",
            "",
            "spine-1",
            "leaf-r1-1--spine-1=nan",
            "spine-1=0.5",
            "spine-1=400G",
            "srv-1..srv-2",
            "all_to_all",
            "ring",
            "adaptive",
            "spray",
            "half",
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a mapping (leaves and sections), list items included."""
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _set(data: Any, path: tuple, value: Any, delete: bool = False) -> None:
    node = data
    for k in path[:-1]:
        node = node[k]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


@st.composite
def mutated(draw, base: dict, extra_paths: tuple[tuple, ...] = ()) -> dict:
    """`base` with one to three fields replaced, deleted or added."""
    import copy

    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data) + [p for p in extra_paths]
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["value", "value", "value", "delete", "unknown"]))
        try:
            if kind == "unknown":
                _set(data, path[:-1] + (draw(st.sampled_from(["colour", "serverz", "x"])),), draw(HOSTILE))
            else:
                _set(data, path, draw(HOSTILE), delete=kind == "delete")
        except (KeyError, IndexError, TypeError):
            continue  # the parent is no longer a mapping: the mutation before replaced it
    return data


INTENT_EXTRA = (
    ("racks", "spares_percent"),
    ("racks", "rack_width_m"),
    ("fabric", "cable_lengths", "server_leaf_m"),
    ("fabric", "max_servers"),
    ("fabric", "tiers"),
    ("cluster", "planes"),
    ("cluster", "nic_speed_gbps"),
    ("power_w", "H100"),
    ("roce", "ecn_min_bytes"),
    ("addressing", "vlan_base"),
    ("fabric", "spine", "count"),
)
FACTORY_EXTRA = (
    ("seed",),
    ("power", "pue"),
    ("cost", "electricity_usd_per_kwh"),
    ("jobs", 0, "steps"),
    ("jobs", 0, "arrive_h"),
    ("jobs", 0, "duration_h"),
    ("scheduler", "policy"),
    ("failures", "gpus"),
    ("failures", "restart_min"),
    ("checkpoint", "interval_min"),
)

# -- whole-file mutations ------------------------------------------------------------------
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdefg", "bcdefgh"))


def file_mutations(text: str) -> st.SearchStrategy[bytes]:
    """The YAML text of a valid file, spoiled as files get spoiled."""
    first = text.splitlines()[0] if text else "x: 1"
    return st.one_of(
        st.just(text.replace("fz", "fé").encode("latin-1", errors="replace")),
        st.just(text.encode("utf-16")),
        st.binary(max_size=64).map(lambda b: text.encode() + b),
        st.integers(0, max(len(text) - 1, 0)).map(lambda i: text[:i].encode()),
        st.integers(10, 3000).map(lambda n: (text + "extra: " + "[" * n + "]" * n + "\n").encode()),
        st.integers(10, 3000).map(lambda n: (text + "extra:\n" + "".join(" " * i + "- \n" for i in range(n))).encode()),
        st.just((BOMB + text).encode()),
        st.just((BOMB + text.replace("name: fz", "name: *h")).encode()),
        st.just((text + first + "\n").encode()),  # a duplicate key
        st.sampled_from(["9" * 4301, "1" + "0" * 400, "-" + "9" * 5000, ".nan", ".inf", "-.inf", "yes", "1e999"]).map(
            lambda v: text.replace(": 4\n", f": {v}\n", 1).replace(": 1\n", f": {v}\n", 1).encode()
        ),
        st.just(b"\x00\xff\xfe" * 10),
        st.just(b""),
        st.just(b"- just\n- a list\n"),
    )


# -- running one case ------------------------------------------------------------------------
@dataclass
class Outcome:
    args: list[str]
    exit_code: int
    seconds: float
    problem: str = ""  # "" when the invariant held
    message: str = field(default="", repr=False)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_case(args: list[str], out: Path | None, expect: tuple[str, ...] = ()) -> Outcome:
    """Invoke the CLI in-process; check the invariant. `expect`: files a successful run writes."""
    from typer.testing import CliRunner

    from tokenfab.cli import app
    from tokenfab.errors import InputError
    from tokenfab.outputs import MARKER

    args = [str(a) for a in args]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    t0 = time.perf_counter()
    try:
        r = CliRunner().invoke(app, args, catch_exceptions=True)
    except _Hang:
        return Outcome(args, -1, time.perf_counter() - t0, f"no answer within {CASE_TIMEOUT_S:g} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    code, err = r.exit_code, r.stderr
    if isinstance(r.exception, _Hang):
        return Outcome(args, -1, dt, f"no answer within {CASE_TIMEOUT_S:g} s")
    if isinstance(r.exception, InputError):  # what tokenfab's main() turns into exit 2
        code, err = 2, f"error: {r.exception}\n"
    elif r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(r.exception))
        return Outcome(args, code, dt, f"traceback: {type(r.exception).__name__}: {str(r.exception)[:300]}", tb[-3000:])
    out_problem = _check_out(out, code == 0, expect, MARKER)
    if code == 0:
        return Outcome(args, 0, dt, out_problem)
    if code != 2:
        return Outcome(args, code, dt, f"exit {code}", err[:2000])
    text = err.strip()
    if text.startswith("Usage:") and "Error" in text and len(text.encode()) <= MAX_ERROR_BYTES:
        return Outcome(args, 2, dt, out_problem, text)  # click's usage error: it names the option
    if not text.startswith("error:"):
        return Outcome(args, 2, dt, "exit 2 without an error line", (err + r.stdout)[:2000])
    if "\n" in text:
        return Outcome(args, 2, dt, "error of more than one line", text[:2000])
    if len(text.encode()) > MAX_ERROR_BYTES:
        return Outcome(args, 2, dt, f"error of {len(text.encode()):,} bytes", text[:500])
    if "Traceback" in err + r.stdout:
        return Outcome(args, 2, dt, "traceback printed", err[:2000])
    return Outcome(args, 2, dt, out_problem, text)


def _check_out(out: Path | None, ok: bool, expect: tuple[str, ...], marker: str) -> str:
    if out is None:
        return ""
    left = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    if left:
        return f"temporary folder left: {left[0]}"
    if ok:
        if not (out / marker).is_file():
            return "exit 0 without a complete output folder"
        missing = [e for e in expect if not (out / e).exists()]
        if missing:
            return f"exit 0 but {missing[0]} missing"
    return ""


def write(path: Path, data: dict | bytes) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else _dump(data))
    return path


def _dump(data: dict) -> bytes:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    except (ValueError, yaml.YAMLError):  # an integer too long for str(): write it by hand
        return repr(data).encode()


def is_finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
