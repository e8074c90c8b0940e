"""Dependencies run one way: intent -> catalog; design -> intent/catalog; configure, twin, sim ->
design; workload -> catalog; factory -> design/sim/workload; nothing imports report/ or a CLI module
except the CLI. Read from the source with `ast`, so lazy imports inside functions count too."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tokenfab"
BASE = {"errors", "strict", "fileio", "outputs", "numbers"}  # leaves everyone may use
DESIGN = BASE | {"catalog", "intent", "design", "names"}  # names: device/link names over a Fabric
# package -> the packages it may import (besides itself)
ALLOWED = {
    "errors": set(),
    "strict": {"errors"},
    "numbers": {"errors"},
    "fileio": {"errors"},
    "outputs": {"errors", "fileio"},
    "catalog": BASE,
    "intent": BASE | {"catalog"},
    "design": DESIGN,
    "names": DESIGN,
    "configure": DESIGN,
    "twin": DESIGN,
    "sim": DESIGN,
    "workload": BASE | {"catalog"},
    "comm": DESIGN | {"sim", "workload"},
    "factory": DESIGN | {"sim", "workload", "comm"},
    "sweep": DESIGN | {"sim", "workload", "comm", "factory", "configure"},
    "operate": DESIGN | {"sim", "workload", "comm", "factory", "twin"},
    "report": DESIGN | {"sim", "workload", "comm", "factory", "configure"},
    "server": DESIGN | {"sim", "workload", "comm", "factory", "configure", "sweep", "operate", "report", "tokenfab", "api"},
}
# the Python API (one function per CLI verb) stands beside the CLI: it may call every stage
ALLOWED["doctor"] = BASE | {"twin"}  # leftovers of killed runs and orphaned twin state
ALLOWED["server"] = ALLOWED["server"] | {"twin"}  # the twin view reads a running twin's state
ALLOWED["api"] = set(ALLOWED) - {"api"}
ALLOWED["catalog_commands"] = BASE | {"catalog", "intent", "design"}  # the catalog verbs and the schemas of every file
# Imports that break the rule today and are being moved by their owners; shrink, never grow.
KNOWN: set[tuple[str, str]] = set()


def _is_cli(module: str) -> bool:
    return module in ("tokenfab.cli", "tokenfab.clikit", "tokenfab.catalog_commands") or module.endswith(".commands")


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tokenfab"


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported tokenfab module, line) for every import in src/tokenfab."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import: resolve against this file's package
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                # `from tokenfab.x import y` may import the submodule tokenfab.x.y
                targets = [base] + [
                    f"{base}.{a.name}"
                    for a in node.names
                    if (SRC.parent / f"{base}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                    or (SRC.parent / f"{base}.{a.name}".replace(".", "/")).is_dir()
                ]
            else:
                continue
            out += [(module, t, node.lineno) for t in targets if t == "tokenfab" or t.startswith("tokenfab.")]
    return out


def test_every_package_has_a_place_in_the_layers():
    packages = {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())) and p.stem != "__init__"
    }
    unknown = sorted(packages - set(ALLOWED) - {"cli", "clikit"})
    assert unknown == [], f"add {unknown} to ALLOWED in tests/test_dependencies.py: which packages may it import?"


def test_dependencies_run_one_way():
    bad = []
    for module, target, line in _imports():
        src, dst = _package(module), _package(target)
        if _is_cli(module) or src == "tokenfab" or (module, target) in KNOWN:
            continue
        if _is_cli(target):
            bad.append(f"{module}:{line} imports the CLI module {target}")
        elif src != dst and dst not in ALLOWED.get(src, set()):
            bad.append(
                f"{module}:{line} imports {target} ({src} may import {', '.join(sorted(ALLOWED.get(src, ()))) or 'nothing'})"
            )
    assert bad == [], "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports():
    found = {(m, t) for m, t, _ in _imports()}
    # intent checks the RoCE profile inside a function: a lazy import, and it is the catalog's now
    assert ("tokenfab.intent", "tokenfab.catalog.roce") in found
    assert not any(m == "tokenfab.intent" and t.startswith("tokenfab.configure") for m, t in found)
    assert not any(m.startswith("tokenfab.sim.") and t.startswith("tokenfab.configure") for m, t in found)
    assert all(
        ("tokenfab.report" not in t) or _is_cli(m) or _package(m) in ("report", "server", "api") or (m, t) in KNOWN
        for m, t in found
    )
