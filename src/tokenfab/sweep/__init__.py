"""Sweeps of anything: intent variants x simulate scenarios or factory variants, on a local process
pool or a Ray cluster, streamed into DuckDB, resumable, judged by a Pareto front over any number of
objectives. See spec.py for the sweep file and metrics.py for what can be measured."""

from tokenfab.sweep.runner import run_sweep, run_to_folder
from tokenfab.sweep.spec import SweepSpec, load_sweep, points

__all__ = ["run_sweep", "run_to_folder", "SweepSpec", "load_sweep", "points"]
