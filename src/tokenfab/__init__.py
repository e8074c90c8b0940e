"""tokenfab: build AI factories on open Ethernet.

Python API (every CLI verb is a function; see tokenfab/api.py):
    import tokenfab
    fabric = tokenfab.plan("examples/rail-optimized-256.yaml", out="out")     # tokenfab plan
    tokenfab.configure("out")                                                 # tokenfab configure
    report = tokenfab.validate("out"); report.ok                              # tokenfab validate
    result = tokenfab.simulate(fabric, "all_reduce", sizes=[1 << 30])         # tokenfab simulate
    runs = tokenfab.run_factory("examples/factory-256.yaml")                  # tokenfab factory run
    rows = tokenfab.sweep("examples/sweep-leaf-choices.yaml")                 # tokenfab sweep
"""

import sys
import types

from tokenfab.api import Simulation, configure, load_fabric, plan, run_factory, simulate, sweep, validate

__version__ = "0.1.0"
VERBS = ("plan", "configure", "validate", "simulate", "run_factory", "sweep")

# The rest resolves on first use (PEP 562): `import tokenfab` and `tokenfab --help` stay fast.
_HOME = {
    "Fabric": "tokenfab.design.model",
    **dict.fromkeys(("InputError", "InfeasibleError"), "tokenfab.errors"),
    **dict.fromkeys(("Intent", "load_intent", "parse_intent"), "tokenfab.intent"),
}
__all__ = [
    "plan",
    "configure",
    "validate",
    "simulate",
    "run_factory",
    "sweep",  # VERBS, spelled out for linters
    "load_fabric",
    "Simulation",
    "Fabric",
    "Intent",
    "load_intent",
    "parse_intent",
    "InputError",
    "InfeasibleError",
    "__version__",
]


def __getattr__(name: str):
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'tokenfab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """`tokenfab.configure` and `tokenfab.sweep` are verbs and subpackages at once: importing the
    subpackage would rebind the package attribute to the module, so the verbs keep their names
    (the subpackages stay importable: `from tokenfab.configure import bundle`)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in VERBS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
