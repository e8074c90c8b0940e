"""Design-space sweeps: many variants of one intent, evaluated locally or on a Ray cluster,
results in DuckDB and a Pareto plot. See spec.py for the sweep file."""

# Names resolve on first use (PEP 562): `tokenfab --help` imports sweep.commands, not the planner.
_HOME = {"run_sweep": "tokenfab.sweep.runner", "SweepSpec": "tokenfab.sweep.spec", "load_sweep": "tokenfab.sweep.spec"}
__all__ = ["run_sweep", "SweepSpec", "load_sweep"]


def __getattr__(name: str):
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'tokenfab.sweep' has no attribute {name!r}")
