"""The twin: configure's output booted with real FRR in network namespaces, checked against the
plan's expectations, and broken on purpose. Verbs: `tokenfab.twin.api` (up, status, check,
fail, restore, down); CLI in `commands.py`."""
