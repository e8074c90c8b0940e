"""The containerlab topology that `tokenfab configure` writes (export/containerlab.clab.yml), checked
against containerlab's own JSON schema (vendored in tests/data/containerlab/, see its README) and
against what containerlab checks only at deploy time, which a schema cannot express (links between
declared nodes, each interface used once, bind sources that exist, management addresses in the
management subnet). The lab's switch files (export/lab/<switch>/) are checked against the
docker-sonic-vs image's port map (tests/data/sonic-vs/, upstream's port_config.ini), SONiC's YANG
models, FRR's vtysh and the plan they come from."""

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
from tokenfab.configure.frr import check_many_with_frr, render_frr
from tokenfab.configure.lab import sonic_vs
from tokenfab.configure.yang import validator as yang_validator
from tokenfab.design.model import Fabric
from tokenfab.intent import Intent

SCHEMA_PATH = ROOT / "tests" / "data" / "containerlab" / "clab.schema.json"
UPSTREAM_PORT_CONFIG = ROOT / "tests" / "data" / "sonic-vs" / "port_config.ini"
CLAB_FILE = "export/containerlab.clab.yml"
# rail-only-128: 4 leaves of 32 server ports (mapped, no switch-to-switch links); lab-32: 8 leaves of 6
# ports and a spine of 16 (mapped); rail-optimized-256: leaves of 96 ports (refused); lab-32-p31: lab-32
# with NICs on /31s (INTERFACE rows on server ports, docker_routing_config_mode split-unified)
CASES = ["rail-only-128", "lab-32", "rail-optimized-256", "lab-32-p31"]
MAPPED = ["rail-only-128", "lab-32", "lab-32-p31"]


def _intent(name: str):
    if name == "lab-32-p31":
        data = yaml.safe_load((EXAMPLES / "lab-32.yaml").read_text())
        data["addressing"] = {"server_links": "p31"}
        return Intent.model_validate(data)
    return load_intent(EXAMPLES / f"{name}.yaml")


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
    return {name: plan(_intent(name)) for name in CASES}


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
    # switches: the bind sources are that switch's files, resolved from the topology's folder: the lab
    # files where the switches are mapped onto the image's ports, else the planned config_db.json
    subnet = ipaddress.IPv4Network(doc["mgmt"]["ipv4-subnet"])
    addresses = []
    for node, cfg in nodes.items():
        if cfg["kind"] == "linux":
            assert cfg["network-mode"] == "none" and "mgmt-ipv4" not in cfg
            continue
        binds = {}
        for bind in cfg["binds"]:
            source, target, mode = bind.split(":")
            assert mode == "ro"
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(CLAB_FILE), source))  # as containerlab resolves it
            assert rel in files, f"{node}: bind source {source} is not written by configure"
            binds[target] = rel
        if name in MAPPED:
            assert binds == {
                "/var/sonic/config_db.json": f"export/lab/{node}/config_db.json",
                "/etc/frr/bgpd.conf": f"export/lab/{node}/frr.conf",
            }
        else:
            assert binds == {"/var/sonic/config_db.json": f"configs/{node}/config_db.json"}
        assert json.loads(files[binds["/var/sonic/config_db.json"]])["DEVICE_METADATA"]["localhost"]["hostname"] == node
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


# --- the lab's switch files: the plan's switches on the docker-sonic-vs image's port map ---

# tables whose keys name ports (a key part that is a port), renamed onto the lab's ports
PORT_KEYED = ["INTERFACE", "VLAN_MEMBER", "PORT_QOS_MAP", "QUEUE", "BUFFER_PG", "BUFFER_QUEUE", "PFC_WD"]


def _ini_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _lab(files: dict[str, bytes]) -> dict[str, dict]:
    """switch -> its lab config_db.json."""
    return {
        rel.split("/")[2]: json.loads(data)
        for rel, data in files.items()
        if rel.startswith("export/lab/") and rel.endswith("/config_db.json")
    }


def _port_number(name: str) -> int:
    return int(name.removeprefix("Ethernet"))


def _renaming(planned: dict) -> dict[str, str]:
    """The renaming the lab must apply, worked out here from its definition: the switch's Nth cabled
    port (those with a DEVICE_NEIGHBOR, in port order) becomes the image's port on ethN, which is the
    Nth row of upstream's port_config.ini (generate_vs_hwsku.py writes lanemap.ini that way)."""
    rows = _ini_rows(UPSTREAM_PORT_CONFIG.read_text())
    cabled = sorted(planned["DEVICE_NEIGHBOR"], key=_port_number)
    return {port: rows[n][0] for n, port in enumerate(cabled)}


def _rename_key(key: str, rename: dict[str, str]) -> str:
    return "|".join(rename.get(part, part) for part in key.split("|"))


def test_shipped_port_map_is_upstreams_port_config():
    rows = _ini_rows(UPSTREAM_PORT_CONFIG.read_text())
    image = sonic_vs()
    assert [[p.name, p.lanes, p.alias, str(p.index), str(p.speed_gbps * 1000)] for p in image.ports] == rows
    assert [p.eth for p in image.ports] == list(range(1, len(rows) + 1))  # lanemap.ini: ethN = Nth row
    assert (image.platform, image.hwsku, len(rows)) == ("x86_64-kvm_x86_64-r0", "Force10-S6000", 32)


@pytest.mark.parametrize("name", MAPPED)
def test_lab_configs_pass_sonic_yang(bundles, name):
    lab = _lab(bundles[name])
    nodes = yaml.safe_load(bundles[name][CLAB_FILE])["topology"]["nodes"]
    assert sorted(lab) == sorted(n for n, k in nodes.items() if k["kind"] == "sonic-vs")
    v = yang_validator()
    for switch, cfg in lab.items():
        assert v.validate(cfg, reuse=False) == [], switch
    # and the check can fail: a neighbour on a port the lab does not have is refused (leafref to PORT)
    switch, cfg = next(iter(lab.items()))
    bad = copy.deepcopy(cfg)
    bad["DEVICE_NEIGHBOR"]["Ethernet200"] = {"name": "x", "port": "Ethernet0", "local_port": "Ethernet200"}
    assert v.validate(bad, reuse=False) != []


@pytest.mark.parametrize("name", MAPPED)
def test_lab_ports_are_the_images_port_config_rows(bundles, name):
    files = bundles[name]
    rows = {r[0]: r for r in _ini_rows(UPSTREAM_PORT_CONFIG.read_text())}
    for switch, cfg in _lab(files).items():
        planned = json.loads(files[f"configs/{switch}/config_db.json"])
        rename = _renaming(planned)
        # exactly the cabled ports, each on the image row of its ethN, with the plan's settings kept
        assert sorted(cfg["PORT"], key=_port_number) == list(rename.values())
        for old, new in rename.items():
            p = cfg["PORT"][new]
            assert [new, p["lanes"], p["alias"], p["index"], p["speed"]] == rows[new]
            kept = {
                k: planned["PORT"][old][k] for k in ("mtu", "fec", "admin_status", "description") if k in planned["PORT"][old]
            }
            assert {k: v for k, v in p.items() if k not in ("lanes", "alias", "index", "speed")} == kept
            assert p["admin_status"] == "up"
        assert "BREAKOUT_CFG" not in cfg
        meta = cfg["DEVICE_METADATA"]["localhost"]
        assert (meta["platform"], meta["hwsku"]) == ("x86_64-kvm_x86_64-r0", "Force10-S6000")
        assert {k: v for k, v in meta.items() if k not in ("platform", "hwsku")} == {
            k: v for k, v in planned["DEVICE_METADATA"]["localhost"].items() if k not in ("platform", "hwsku")
        }


@pytest.mark.parametrize("name", MAPPED)
def test_lab_tables_are_the_plans_renamed(bundles, name):
    """Every table naming a port names the lab's port for it; addresses and BGP are the plan's."""
    files = bundles[name]
    for switch, cfg in _lab(files).items():
        planned = json.loads(files[f"configs/{switch}/config_db.json"])
        rename = _renaming(planned)
        for table in PORT_KEYED:
            if table in planned:
                assert cfg[table] == {_rename_key(k, rename): v for k, v in planned[table].items()}, (switch, table)
        assert cfg["CABLE_LENGTH"] == {k: {rename[p]: m for p, m in v.items()} for k, v in planned["CABLE_LENGTH"].items()}
        assert cfg.get("BGP_NEIGHBOR") == planned.get("BGP_NEIGHBOR")
        # the same addresses, each on the lab port of its planned port
        assert sorted(cfg.get("INTERFACE", {})) == sorted(_rename_key(k, rename) for k in planned.get("INTERFACE", {}))
        # neighbouring switches run the image too; servers are as planned
        assert cfg["DEVICE_NEIGHBOR_METADATA"] == {
            n: m | ({"hwsku": "Force10-S6000"} if m["type"] != "Server" else {})
            for n, m in planned["DEVICE_NEIGHBOR_METADATA"].items()
        }
        untouched = set(planned) - set(PORT_KEYED) - {"PORT", "BREAKOUT_CFG", "CABLE_LENGTH", "DEVICE_METADATA"}
        untouched -= {"DEVICE_NEIGHBOR", "DEVICE_NEIGHBOR_METADATA"}
        assert {t: cfg[t] for t in untouched} == {t: planned[t] for t in untouched}
        # no key part anywhere names a port the lab's PORT table lacks
        for table, entries in cfg.items():
            for key in entries:
                for part in key.split("|"):
                    if part.startswith("Ethernet"):
                        assert part in cfg["PORT"], (switch, table, key)
    if name == "lab-32-p31":  # NIC /31s are on server ports there
        leaf = _lab(files)["leaf-r1-1"]
        assert any(leaf["DEVICE_NEIGHBOR"][k.split("|")[0]]["name"].startswith("srv-") for k in leaf["INTERFACE"] if "|" in k)
    if name == "lab-32":
        assert _lab(files)["leaf-r1-1"]["VLAN_MEMBER"]


@pytest.mark.parametrize("name", MAPPED)
def test_each_link_joins_the_two_lab_ports_that_name_each_other(bundles, name):
    files = bundles[name]
    lab = _lab(files)
    doc = yaml.safe_load(files[CLAB_FILE])
    nodes = doc["topology"]["nodes"]
    image_port = {p.eth: p.name for p in sonic_vs().ports}
    seen = {switch: set() for switch in lab}

    def lab_port(end: str) -> tuple[str, str]:
        node, _, iface = end.partition(":")
        n = int(iface.removeprefix("eth"))
        return node, (image_port[n] if nodes[node]["kind"] == "sonic-vs" else iface)

    between_switches = 0
    for link in doc["topology"]["links"]:
        (a, pa), (b, pb) = map(lab_port, link["endpoints"])
        for (x, px), (y, py) in (((a, pa), (b, pb)), ((b, pb), (a, pa))):
            if x in lab:
                assert lab[x]["DEVICE_NEIGHBOR"][px] == {"name": y, "port": py, "local_port": px}
                assert lab[x]["PORT"][px]["admin_status"] == "up"
                seen[x].add(px)
        if a in lab and b in lab:
            between_switches += 1
            # both ends' /31s are one subnet and each end's BGP neighbour is the other end's address
            ia = next(k.split("|")[1] for k in lab[a]["INTERFACE"] if k.startswith(pa + "|"))
            ib = next(k.split("|")[1] for k in lab[b]["INTERFACE"] if k.startswith(pb + "|"))
            assert ipaddress.ip_interface(ia).network == ipaddress.ip_interface(ib).network
            assert lab[a]["BGP_NEIGHBOR"][ib.split("/")[0]]["local_addr"] == ia.split("/")[0]
            assert lab[b]["BGP_NEIGHBOR"][ia.split("/")[0]]["local_addr"] == ib.split("/")[0]
    # every lab port is the end of exactly the links that name it
    assert {s: sorted(v) for s, v in seen.items()} == {s: sorted(c["DEVICE_NEIGHBOR"]) for s, c in lab.items()}
    assert between_switches == (0 if name == "rail-only-128" else 16)


@pytest.mark.parametrize("name", ["lab-32", "lab-32-p31"])
def test_lab_frr_is_rendered_from_the_lab_config_and_loads_in_frr(bundles, name):
    files = bundles[name]
    texts = {}
    for switch, cfg in _lab(files).items():
        rel = f"export/lab/{switch}/config_db.json"
        text = files[f"export/lab/{switch}/frr.conf"].decode()
        assert text == render_frr(cfg, rel)
        assert text.startswith(f"! {switch}: FRR configuration rendered by tokenfab from {rel}.")
        # the same routing as the plan's frr.conf: only the interface names (and the header) differ
        planned = files[f"configs/{switch}/frr.conf"].decode()
        assert [ln for ln in text.splitlines() if not ln.startswith(("!", "interface "))] == [
            ln for ln in planned.splitlines() if not ln.startswith(("!", "interface "))
        ]
        texts[switch] = text
    assert check_many_with_frr(texts) == {switch: [] for switch in texts}


def test_lab_files_are_deterministic(bundles):
    again = dict(bundle.generate(plan(_intent("lab-32"))))
    lab_files = [rel for rel in again if rel.startswith("export/lab/")]
    assert len(lab_files) == 18
    assert {rel: again[rel] for rel in lab_files} == {rel: bundles["lab-32"][rel] for rel in lab_files}


def test_refused_when_a_switch_has_more_cabled_ports_than_the_image(bundles):
    files = bundles["rail-optimized-256"]
    message = "switch leaf-r1-1 has 96 cabled ports; the sonic-vs image has 32"
    assert not [rel for rel in files if rel.startswith("export/lab/")]
    header = [ln for ln in files[CLAB_FILE].decode().splitlines() if ln.startswith("#")]
    assert any(message in ln for ln in header), header


def test_configure_says_why_the_lab_is_not_mapped(tmp_path):
    from typer.testing import CliRunner

    from tokenfab.cli import app

    r = CliRunner().invoke(app, ["configure", str(EXAMPLES / "rail-optimized-256.yaml"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())  # rich wraps at the terminal width
    said = "containerlab lab: switch ports not mapped onto the sonic-vs image's: "
    assert said + "switch leaf-r1-1 has 96 cabled ports; the sonic-vs image has 32" in out
    r = CliRunner().invoke(app, ["configure", str(EXAMPLES / "lab-32.yaml"), "-o", str(tmp_path / "lab")])
    assert r.exit_code == 0, r.output
    assert "every switch mapped onto the sonic-vs image's ports" in " ".join(r.output.split())
    assert (tmp_path / "lab" / "export" / "lab" / "spine-1" / "frr.conf").is_file()


def test_lab_frr_is_read_by_bgpd_as_its_own_file(bundles):
    """The lab mounts frr.conf at /etc/frr/bgpd.conf: bgpd (FRR's own dry run, -C) reads all of it and
    refuses only the zebra-only lines, which it skips (zebra keeps the image's own zebra.conf)."""
    import os
    import re
    import subprocess
    import tempfile

    files = bundles["lab-32"]
    zebra_only = {"ip forwarding", "ip nht resolve-via-default", "link-detect"}
    for switch in ("leaf-r1-1", "spine-1"):
        with tempfile.NamedTemporaryFile(suffix=".conf") as fh:
            fh.write(files[f"export/lab/{switch}/frr.conf"])
            fh.flush()
            os.chmod(fh.name, 0o644)  # bgpd reads it as user frr
            r = subprocess.run(["/usr/lib/frr/bgpd", "-C", "-f", fh.name], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        refused = {m.strip() for m in re.findall(r"on config line \d+: (.*)", r.stdout + r.stderr)}
        assert refused == zebra_only, r.stdout + r.stderr
