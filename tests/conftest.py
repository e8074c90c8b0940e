from pathlib import Path

import pytest

from tokenfab import parse_intent, plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current outputs instead of comparing (see tests/test_golden.py)",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def make(**sections):
    """An intent from keyword sections, e.g. make(cluster={...}, fabric={...})."""
    return parse_intent(sections)


@pytest.fixture(scope="session")
def example_fabrics():
    import yaml

    from tokenfab import load_intent

    # examples/ also holds factory descriptions (they name a fabric instead of a cluster)
    intents = [p for p in sorted(EXAMPLES.glob("*.yaml")) if "cluster" in (yaml.safe_load(p.read_text()) or {})]
    return {p.stem: plan(load_intent(p)) for p in intents}


@pytest.fixture(autouse=True)
def _shipped_catalog_only():
    """Each test starts from the shipped catalog: a plan or a --catalog option of an earlier test in
    the same worker makes its user files the catalog in force (a context variable), which must not
    leak into the next test."""
    from tokenfab.catalog import _ACTIVE

    token = _ACTIVE.set(None)
    yield
    _ACTIVE.reset(token)
