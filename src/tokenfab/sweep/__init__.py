"""Design-space sweeps: many variants of one intent, evaluated locally or on a Ray cluster,
results in DuckDB and a Pareto plot. See spec.py for the sweep file."""

from tokenfab.sweep.runner import run_sweep
from tokenfab.sweep.spec import SweepSpec, load_sweep

__all__ = ["run_sweep", "SweepSpec", "load_sweep"]
