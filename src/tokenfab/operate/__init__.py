"""Operate the fabric: telemetry in, failing links found before they fail, the cost of acting in tokens.

counters.py (the schema: SONiC COUNTERS_DB / STATE_DB names and OpenConfig paths) -> telemetry.py
(columns per port, Parquet, ingest of messy data) <- sources: scenario.py + factory_source.py (the
factory simulation with degradations and ground truth), twin_source.py (a running twin) ->
detect.py (failing links, PFC storms, hot spots, BGP flaps) -> advise.py (actions priced by the
factory) -> prom.py (Prometheus exposition), store.py (DuckDB history), report.py (HTML).
"""
