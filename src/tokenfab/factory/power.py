"""Facility power and capex of the factory, from the design's bill of materials.

    GPU        idle_fraction x TDP + (1 - idle_fraction) x TDP x (share of the epoch computing)
    servers    (server power - GPU TDPs) x (idle share + (1 - idle share) x allocated share)
    network    switches, optics and NICs of every network: constant
    CPU pools  every node at its power_w all the time
    facility   IT x PUE

TDP is the intent's `power_w` for the GPU model, else the catalog's. Capex is the BOM's total.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenfab.design import bom
from tokenfab.design.bom import Category
from tokenfab.design.model import Fabric
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.spec import FactorySpec


@dataclass(frozen=True)
class PowerModel:
    gpu_tdp_w: float
    gpu_idle_w: float
    server_overhead_w: float  # everything of the servers but their GPUs, at full load
    server_idle_fraction: float
    network_w: float  # switches + optics + NICs
    switch_w: float
    optics_w: float
    nic_w: float
    cpu_w: float  # CPU pools (data pipelines)
    pue: float
    capex_usd: float  # the whole BOM
    gpu_price_usd_per_hour: float

    @classmethod
    def of(cls, spec: FactorySpec, fabric: Fabric, cluster: Cluster) -> PowerModel:
        gpu = cluster.gpu
        tdp = fabric.intent.power_w.get(gpu.model, gpu.tdp_w)
        rows = bom.bom(fabric)
        server_w = bom.power_w(rows, {Category.SERVER})
        p = spec.power
        return cls(
            gpu_tdp_w=tdp,
            gpu_idle_w=tdp * p.gpu_idle_fraction,
            server_overhead_w=max(server_w - cluster.n_gpus * tdp, 0.0),
            server_idle_fraction=p.server_overhead_idle_fraction,
            network_w=bom.power_w(rows, bom.NETWORK_CATEGORIES),
            switch_w=bom.power_w(rows, {Category.SWITCH}),
            optics_w=bom.power_w(rows, {Category.OPTIC}),
            nic_w=bom.power_w(rows, {Category.NIC}),
            cpu_w=sum(c.nodes * c.power_w for c in spec.cpu_pools),
            pue=p.pue,
            capex_usd=bom.price_usd(rows),
            gpu_price_usd_per_hour=gpu.price_usd_per_hour or 0.0,
        )

    def gpus_w(self, gpus: int, busy_fraction: float) -> float:
        """Draw of `gpus` GPUs computing `busy_fraction` of the time."""
        return gpus * (self.gpu_idle_w + (self.gpu_tdp_w - self.gpu_idle_w) * busy_fraction)

    def servers_w(self, allocated_fraction: float) -> float:
        """Server overhead (CPUs, memory, fans) with `allocated_fraction` of the GPUs in use."""
        f = self.server_idle_fraction
        return self.server_overhead_w * (f + (1 - f) * allocated_fraction)

    def it_w(self, gpus_w: float, servers_w: float) -> float:
        return gpus_w + servers_w + self.network_w + self.cpu_w
