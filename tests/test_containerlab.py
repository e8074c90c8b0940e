"""The containerlab topology that `tokenfab configure` writes (export/containerlab.clab.yml), checked
against containerlab's own JSON schema (vendored in tests/data/containerlab/, see its README) and
against what containerlab checks only at deploy time, which a schema cannot express (links between
declared nodes, each interface used once, bind sources that exist, management addresses in the
management subnet)."""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import posixpath

import jsonschema
import pytest
import regress
import yaml

from tests.conftest import EXAMPLES, ROOT
from tokenfab import load_intent, plan
from tokenfab.configure import bundle
from tokenfab.design.model import Fabric

SCHEMA_PATH = ROOT / "tests" / "data" / "containerlab" / "clab.schema.json"
CLAB_FILE = "export/containerlab.clab.yml"
# a small fabric and the rail-optimized reference
CASES = ["rail-only-128", "rail-optimized-256"]


@functools.cache
def _ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern, "u")


def _pattern(validator, pattern, instance, schema):
    r"""`pattern` in ECMA-262's dialect, as JSON Schema specifies: containerlab's address patterns use
    `\p{N}`/`\p{L}`, which Python's `re` (jsonschema's default) cannot compile."""
    if validator.is_type(instance, "string") and _ecma(pattern).find(instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    draft = jsonschema.validators.validator_for(schema, default=None)  # the draft the schema declares
    assert draft is not None, f"unknown $schema {schema.get('$schema')!r}"
    formats = jsonschema.FormatChecker(draft.FORMAT_CHECKER.checkers)
    formats.checks("regex", raises=regress.RegressError)(lambda p: not isinstance(p, str) or bool(_ecma(p)))
    draft.check_schema(schema, format_checker=formats)
    # patternProperties keys stay with `re`: they are plain ASCII classes, the same in both dialects
    cls = jsonschema.validators.extend(draft, {"pattern": _pattern})
    return cls(schema, format_checker=formats)


@pytest.fixture(scope="module")
def fabrics() -> dict[str, Fabric]:
    return {name: plan(load_intent(EXAMPLES / f"{name}.yaml")) for name in CASES}


@pytest.fixture(scope="module")
def bundles(fabrics) -> dict[str, dict[str, bytes]]:
    """Every file `tokenfab configure` writes for each case, by relative path."""
    return {name: dict(bundle.generate(fabric)) for name, fabric in fabrics.items()}


def _errors(validator, doc) -> list[str]:
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc))


def _causes(validator, doc) -> list[tuple[str, str]]:
    """(path, message) of each innermost error: a node is `oneOf: [null, node-config]`, so its own
    error only says "not valid under any of the given schemas"; the cause is in the branches."""

    def leaves(error):
        if not error.context:
            yield error.json_path, error.message
        for sub in error.context:
            yield from leaves(sub)

    return sorted(c for e in validator.iter_errors(doc) for c in leaves(e))


def test_schema_is_containerlabs_draft_07():
    # the README beside the schema names the draft; a refresh that changes it must update the README
    schema = json.loads(SCHEMA_PATH.read_text())
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator
    assert schema["$id"] == "https://containerlab.dev/clab.schema.json"
    assert "draft-07" in (SCHEMA_PATH.parent / "README.md").read_text()


@pytest.mark.parametrize("name", CASES)
def test_export_passes_containerlab_schema(validator, fabrics, bundles, name):
    doc = yaml.safe_load(bundles[name][CLAB_FILE])
    assert _errors(validator, doc) == []
    # and it is the whole fabric: every device a node of its kind, every cable a link
    D = fabrics[name].devices
    roles = dict(zip(D["name"].tolist(), D["role"].tolist(), strict=True))
    kinds = {n: v["kind"] for n, v in doc["topology"]["nodes"].items()}
    assert kinds == {n: ("linux" if r == "server" else "sonic-vs") for n, r in roles.items()}
    assert len(doc["topology"]["links"]) == len(fabrics[name].links)


@pytest.mark.parametrize("name", CASES)
def test_export_passes_containerlabs_deploy_checks(bundles, name):
    files = bundles[name]
    doc = yaml.safe_load(files[CLAB_FILE])
    nodes = doc["topology"]["nodes"]
    # links: both ends are declared nodes, ethN with N >= 1 (eth0 is management), each interface once
    # (the schema's own endpoint patterns sit under `prefixItems`, a 2020-12 keyword draft-07 ignores)
    used: set[str] = set()
    for link in doc["topology"]["links"]:
        assert len(link["endpoints"]) == 2
        for end in link["endpoints"]:
            node, _, iface = end.partition(":")
            assert node in nodes, end
            assert iface.startswith("eth") and iface[3:].isdigit() and int(iface[3:]) >= 1, end
            assert end not in used, f"{end} is cabled twice"
            used.add(end)
    # switches: the bind source is that switch's config_db.json, resolved from the topology's folder
    subnet = ipaddress.IPv4Network(doc["mgmt"]["ipv4-subnet"])
    addresses = []
    for node, cfg in nodes.items():
        if cfg["kind"] == "linux":
            assert cfg["network-mode"] == "none" and "mgmt-ipv4" not in cfg
            continue
        (bind,) = cfg["binds"]
        source, target, mode = bind.split(":")
        assert (target, mode) == ("/var/sonic/config_db.json", "ro")
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(CLAB_FILE), source))  # as containerlab resolves it
        assert rel in files, f"{node}: bind source {source} is not written by configure"
        assert json.loads(files[rel])["DEVICE_METADATA"]["localhost"]["hostname"] == node
        addresses.append(ipaddress.IPv4Address(cfg["mgmt-ipv4"]))
    # management: the plan's addresses, in the plan's subnet, clear of containerlab's gateway (first host)
    assert all(a in subnet and a != subnet.network_address + 1 for a in addresses)
    assert len(set(addresses)) == len(addresses)


def test_export_is_deterministic(bundles):
    again = dict(bundle.generate(plan(load_intent(EXAMPLES / "rail-only-128.yaml"))))
    assert again[CLAB_FILE] == bundles["rail-only-128"][CLAB_FILE]


def _set(doc: dict, path: tuple, value) -> dict:
    doc = copy.deepcopy(doc)
    *head, last = path
    target = doc
    for key in head:
        target = target[key]
    target[last] = value
    return doc


def _first(doc: dict, kind: str) -> str:
    return next(n for n, v in doc["topology"]["nodes"].items() if v["kind"] == kind)


# each breaks one rule of containerlab's schema: mutation of a valid export -> (path, message) of the cause
BAD = {
    "unknown kind": (
        lambda d: _set(d, ("topology", "nodes", _first(d, "sonic-vs"), "kind"), "sonic"),
        ("$.topology.nodes['leaf-r1-1'].kind", "'sonic' is not one of"),
    ),
    "misspelled node key": (
        lambda d: _set(d, ("topology", "nodes", _first(d, "sonic-vs"), "startup_config"), "x.json"),
        ("$.topology.nodes['leaf-r1-1']", "('startup_config' was unexpected)"),
    ),
    "unknown top-level key": (lambda d: _set(d, ("labels",), {"a": "b"}), ("$", "('labels' was unexpected)")),
    "lab name with a space": (lambda d: _set(d, ("name",), "my lab"), ("$.name", "'my lab' does not match")),
    "bad management address": (  # an ECMA-262 pattern (\p{N}), checked with regress
        lambda d: _set(d, ("topology", "nodes", _first(d, "sonic-vs"), "mgmt-ipv4"), "10.0.0.300"),
        ("$.topology.nodes['leaf-r1-1']['mgmt-ipv4']", "'10.0.0.300' does not match"),
    ),
    "binds not a list": (
        lambda d: _set(d, ("topology", "nodes", _first(d, "sonic-vs"), "binds"), "a:b"),
        ("$.topology.nodes['leaf-r1-1'].binds", "'a:b' is not of type 'array'"),
    ),
    "no topology": (
        lambda d: {k: v for k, v in d.items() if k != "topology"},
        ("$", "'topology' is a required property"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_refuses_a_broken_topology(validator, bundles, case):
    mutate, (path, message) = BAD[case]
    good = yaml.safe_load(bundles["rail-only-128"][CLAB_FILE])
    assert _first(good, "sonic-vs") == "leaf-r1-1"
    causes = _causes(validator, mutate(good))
    assert any(p == path and message in m for p, m in causes), causes
