"""Operate the fabric: telemetry in, failing links found before they fail, the cost of acting in tokens.

counters.py (the schema: SONiC COUNTERS_DB / STATE_DB names and OpenConfig paths) -> telemetry.py
(columns per port, Parquet, ingest of messy data) <- sources: scenario.py + factory_source.py (the
factory simulation with degradations and ground truth), twin_source.py (a running twin) ->
detect.py (failing links, PFC storms, hot spots, BGP flaps) -> advise.py (actions priced by the
factory) -> prom.py (Prometheus exposition), store.py (DuckDB history), report.py (HTML).
"""

# The public names, imported on first use (the CLI registers `operate` at every start; scipy,
# pyarrow and the simulator load only when a verb needs them).
_LAZY = {
    "Telemetry": "telemetry",
    "Ports": "telemetry",
    "ingest": "telemetry",
    "read_parquet": "telemetry",
    "METRICS": "counters",
    "Event": "scenario",
    "generate": "scenario",
    "Finding": "detect",
    "detect_all": "detect",
    "Pricer": "advise",
    "advise": "advise",
    "simulate_factory": "factory_source",
    "TwinSampler": "twin_source",
    "sample_twin": "twin_source",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"tokenfab.operate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tokenfab.operate' has no attribute {name!r}")


__all__ = sorted(_LAZY)
