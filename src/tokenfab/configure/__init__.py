"""Fabric -> deployable files: SONiC config_db.json and FRR config per switch, host NIC settings,
ZTP bundle and exports; `validate` proves them valid (SONiC YANG + checks across devices).

Kept light to import: the builders live in submodules."""
