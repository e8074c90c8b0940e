"""Sweeps of anything: intent variants x simulate scenarios or factory variants, on a local process
pool or a Ray cluster, streamed into DuckDB, resumable, judged by a Pareto front over any number of
objectives. See spec.py for the sweep file and metrics.py for what can be measured."""

# Names resolve on first use (PEP 562): `tokenfab --help` imports sweep.commands, not the planner.
_HOME = {
    "run_sweep": "tokenfab.sweep.runner",
    "run_to_folder": "tokenfab.sweep.runner",
    "SweepSpec": "tokenfab.sweep.spec",
    "load_sweep": "tokenfab.sweep.spec",
    "points": "tokenfab.sweep.spec",
}
__all__ = ["run_sweep", "run_to_folder", "SweepSpec", "load_sweep", "points"]


def __getattr__(name: str):
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'tokenfab.sweep' has no attribute {name!r}")
