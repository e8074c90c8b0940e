"""The GPUs of a planned fabric and where each one sits: server, scalable unit, pod, rail, leaf.

GPU ids are global: gpu = server_index * gpus_per_server + local index, with servers in fabric
order (srv-1, srv-2, ...). GPU k of a server uses NIC rail k (or k * rails // gpus when GPUs
share NICs). Capacities of the links the factory cares about are summed per rail leaf over
planes (planes are identical copies a NIC's traffic is spread over).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tokenfab.catalog import Gpu, load_catalog
from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.names import resolve

GBPS_TO_BYTES = 1e9 / 8


@dataclass(frozen=True)
class Impairment:
    """Backend impairments in force: packet loss and capacity kept per link row (None = every
    link), extra latency and mean jitter per hop. The simulator (tokenfab.sim.faults) models them."""

    loss: tuple[tuple[str | None, float], ...] = ()
    degrade: tuple[tuple[str | None, float], ...] = ()
    jitter_s: float = 0.0
    latency_s: float = 0.0

    @property
    def any(self) -> bool:
        return bool(self.loss or self.degrade or self.jitter_s or self.latency_s)


@dataclass
class Capacities:
    """Bytes per second of each resource kind, with failed links removed."""

    nic: np.ndarray  # (trays, rails): a tray's NIC -> its leaf (one direction), summed over planes
    leaf_up: np.ndarray  # (leaf keys,): leaf -> spines, summed over the leaf's uplinks and planes
    pod_up: np.ndarray  # (pods + 1,): spines of a pod -> cores (3 tiers only); index = pod number


class Cluster:
    """A Fabric seen as GPUs: coordinates per server and link capacities per rail leaf and pod."""

    def __init__(self, fabric: Fabric):
        self.fabric = fabric
        it = fabric.intent
        d = fabric.design
        D = fabric.devices
        cat = load_catalog(fabric.catalog_layers)
        self.gpu: Gpu = cat.gpus[it.cluster.gpu_model]
        self.rails = int(d["rails"])
        self.tiers = int(d["tiers"])
        self.architecture = d["architecture"]
        role = D["role"]
        # A "server" here is one NVLink island: the server itself, or a rack-scale scale-up domain
        # (GB200 NVL72: 18 trays of 4 GPUs) whose trays all share NVLink. Placement, tensor
        # parallelism and NVLink traffic work per island; each tray keeps its own NICs (rails).
        # GPU ids are unchanged: island * 72 + tray * 4 + k = global tray * 4 + k.
        self.trays_per_server = ds = int(d.get("scaleup_domain_servers") or 1)
        self.gpus_per_tray = g = it.cluster.gpus_per_server
        tray_rows = np.flatnonzero(role == "server")
        if len(tray_rows) % ds:
            raise InputError(f"{len(tray_rows)} servers are not whole scale-up domains of {ds}")
        self.gpus_per_server = g * ds
        self.server_rows = tray_rows[::ds]  # an island's first tray stands for its rack, unit and pod
        self._server_of_row = np.full(len(D), -1, dtype=np.int64)
        self._server_of_row[tray_rows] = np.arange(len(tray_rows)) // ds
        names = D["name"][tray_rows]
        self.server_names = (
            names[::ds]
            if ds == 1
            else np.array([f"{names[k]}..{names[k + ds - 1]}" for k in range(0, len(names), ds)], dtype=object)
        )
        self.server_index = {n: int(i) for n, i in zip(names.tolist(), self._server_of_row[tray_rows].tolist())}
        self.tray_names = [names[k : k + ds].tolist() for k in range(0, len(names), ds)]  # the machines of each
        self.n_servers = len(self.server_rows)
        self.n_gpus = self.n_servers * self.gpus_per_server
        self.su = D["su"][self.server_rows].astype(np.int64)  # 1-based
        self.n_su = int(self.su.max()) if self.n_servers else 0
        self.pod = D["pod"][self.server_rows].astype(np.int64)  # 1-based in 3 tiers, else 0 or 1
        self.n_pods = int(d.get("pods") or 0)
        self.rail_of_local = ((np.arange(self.gpus_per_server) % g) * self.rails) // g
        # Leaves keyed by (scalable unit, the leaf's rail), planes folded together. A leaf's rail is
        # 0 when one switch per plane takes every rail (small clusters): then all of a unit's rails
        # share one key, so traffic between rails never counts as crossing an uplink.
        self.leaf_rows = np.flatnonzero(role == "leaf")
        pairs = np.stack([D["su"][self.leaf_rows], D["rail"][self.leaf_rows]], axis=1).astype(np.int64)
        uniq, key = np.unique(pairs, axis=0, return_inverse=True)
        self.n_leaf_keys = len(uniq)
        self.leaf_key_of_row = np.full(len(D), -1, dtype=np.int64)
        self.leaf_key_of_row[self.leaf_rows] = key.ravel()
        # NICs belong to trays (a tray is the server itself unless it is part of a scale-up domain):
        # each NIC link's tray, the rail it serves (from the tray's port, nicK or nicKpP) and its leaf
        self.n_trays = len(tray_rows)
        self.tray_name = names
        tray_of_row = np.full(len(D), -1, dtype=np.int64)
        tray_of_row[tray_rows] = np.arange(self.n_trays)
        L = fabric.links
        nic = np.flatnonzero(L["kind"] == "nic")
        self._nic_links = nic
        self._nic_tray = tray_of_row[L["a"][nic]]
        port = L["a_port"][nic].astype(str)
        self._nic_rail = np.char.partition(np.char.replace(port, "nic", ""), "p")[:, 0].astype(np.int64) - 1
        # (tray, rail) -> the leaf key its NIC is cabled to
        self.leaf_of = np.full((self.n_trays, self.rails), -1, dtype=np.int64)
        self.leaf_of[self._nic_tray, self._nic_rail] = self.leaf_key_of_row[L["b"][nic]]
        if (self.leaf_of < 0).any():
            t, r = np.argwhere(self.leaf_of < 0)[0]
            raise InputError(f"{names[t]} has no NIC cabled to a leaf on rail {r + 1}")
        self.spine_pod_of_row = np.zeros(len(D), dtype=np.int64)
        spines = np.flatnonzero(role == "spine")
        self.spine_pod_of_row[spines] = D["pod"][spines]
        self.switch_latency_s = self._switch_latency_s()
        self._failed: set[int] = set()
        self.impairment = Impairment()
        self.link_loss = np.zeros(len(fabric.links))
        self.link_degrade = np.ones(len(fabric.links))
        self.version = 0
        self.capacities = self._capacities()

    # -- coordinates -----------------------------------------------------------------------
    def nodes(self, servers) -> list[str]:
        """Machine (node) names of these servers: each tray of a rack-scale domain is a node."""
        return [n for s in np.asarray(servers).tolist() for n in self.tray_names[s]]

    def server_of_row(self, rows: np.ndarray) -> np.ndarray:
        """Island (server index) of device rows of servers (trays)."""
        return self._server_of_row[np.asarray(rows)]

    def server_of(self, gpus: np.ndarray) -> np.ndarray:
        return np.asarray(gpus) // self.gpus_per_server

    def rail_of(self, gpus: np.ndarray) -> np.ndarray:
        return self.rail_of_local[np.asarray(gpus) % self.gpus_per_server]

    def tray_of(self, gpus: np.ndarray) -> np.ndarray:
        """The machine holding each GPU and its NICs (the server, or its tray in a scale-up domain)."""
        return np.asarray(gpus) // self.gpus_per_tray

    def leaf_key(self, trays: np.ndarray, rails: np.ndarray) -> np.ndarray:
        """The leaf (planes folded) each tray's NIC on each rail is cabled to."""
        return self.leaf_of[trays, rails]

    @cached_property
    def leaf_key_names(self) -> list[str]:
        names = self.fabric.devices["name"]
        out = [""] * self.n_leaf_keys
        for row in self.leaf_rows.tolist():
            k = int(self.leaf_key_of_row[row])
            out[k] = out[k] + ("+" if out[k] else "") + str(names[row])
        return out

    # -- failures ---------------------------------------------------------------------------
    def fail(self, refs: list[str]) -> None:
        self._set(refs, down=True)

    def restore(self, refs: list[str]) -> None:
        self._set(refs, down=False)

    def links_of_ref(self, ref: str) -> list[int]:
        r = resolve(self.fabric, ref)
        if r.links:
            return list(r.links)
        i = self.fabric.index[r.devices[0]]
        L = self.fabric.links
        return np.flatnonzero((L["a"] == i) | (L["b"] == i)).tolist()

    def _set(self, refs: list[str], down: bool) -> None:
        rows: set[int] = set()
        for ref in refs:
            rows.update(self.links_of_ref(ref))
        before = set(self._failed)
        self._failed = (self._failed | rows) if down else (self._failed - rows)
        if self._failed != before:
            self.version += 1
            self.capacities = self._capacities()

    def impair(self, imp: Impairment) -> None:
        """Set the impairments in force (replacing the previous ones)."""
        if imp == self.impairment:
            return
        n = len(self.fabric.links)
        loss, deg = np.zeros(n), np.ones(n)
        for ref, p in imp.loss:
            rows = slice(None) if ref is None else self.links_of_ref(ref)
            loss[rows] = np.maximum(loss[rows], p)
        for ref, f in imp.degrade:
            rows = slice(None) if ref is None else self.links_of_ref(ref)
            deg[rows] = np.minimum(deg[rows], f)
        self.impairment, self.link_loss, self.link_degrade = imp, loss, deg
        self.version += 1
        self.capacities = self._capacities()

    @property
    def failed_links(self) -> frozenset[int]:
        return frozenset(self._failed)

    def _capacities(self) -> Capacities:
        L = self.fabric.links
        up = np.ones(len(L), dtype=bool)
        if self._failed:
            up[list(self._failed)] = False
        speed = L["speed_gbps"].astype(float) * GBPS_TO_BYTES * up * self.link_degrade
        kind = L["kind"]
        nic = np.zeros((self.n_trays, self.rails))
        # by the NIC's own rail: a leaf's rail is 0 when it takes every rail
        np.add.at(nic, (self._nic_tray, self._nic_rail), speed[self._nic_links])
        leaf_up = np.zeros(self.n_leaf_keys)
        m = kind == "leaf-spine"
        np.add.at(leaf_up, self.leaf_key_of_row[L["a"][m]], speed[m])
        pod_up = np.zeros(self.n_pods + 1)
        m = kind == "spine-core"
        np.add.at(pod_up, self.spine_pod_of_row[L["a"][m]], speed[m])
        return Capacities(nic=nic, leaf_up=leaf_up, pod_up=pod_up)

    def _switch_latency_s(self) -> float:
        cat = load_catalog(self.fabric.catalog_layers)
        models = set(self.fabric.devices["model"][self.fabric.switch_mask].tolist())
        lat = [cat.switches[m].latency_ns for m in models if m in cat.switches and cat.switches[m].latency_ns]
        return (max(lat) if lat else 600.0) * 1e-9

    # -- checks --------------------------------------------------------------------------------
    def check_device(self, ref: str, field: str) -> None:
        try:
            resolve(self.fabric, ref)
        except InputError as exc:
            raise InputError(str(exc), field) from None
