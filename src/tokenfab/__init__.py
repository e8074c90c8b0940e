"""tokenfab: build AI factories on open Ethernet.

Python API (every CLI verb is a function):
    intent = tokenfab.load_intent("examples/rail-optimized-256.yaml")
    fabric = tokenfab.plan(intent)
"""

from tokenfab.design import design as plan
from tokenfab.design.model import Fabric
from tokenfab.errors import InfeasibleError, InputError
from tokenfab.intent import Intent, load_intent, parse_intent

__version__ = "0.1.0"
__all__ = ["plan", "Fabric", "Intent", "load_intent", "parse_intent", "InputError", "InfeasibleError", "__version__"]
