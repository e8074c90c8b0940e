"""Data in: sources, pipelines on CPU nodes, versioned datasets in storage.

A stream delivers records_per_s x record_bytes, swinging over the day (`Diurnal`); the bytes that
arrive in an epoch are the exact integral of that rate. A batch source delivers its whole size at
once. Bytes wait in the pipeline's buffer (streams: at most `buffer_gbytes`, beyond it they are
dropped; a batch waits at its source). The pipeline's stages run in series and share its CPU
nodes; its input rate is the smallest of

    CPU:       nodes / sum over stages of (share of input bytes reaching stage i / its bytes per
               node-second)
    storage:   its write share of the storage fabric and tier / (output bytes per input byte)
    capacity:  the tier's free space / output bytes per input byte, over the epoch

so a slow stage or storage holds data back in the buffer (backpressure), and when the buffer is
full the overflow is dropped with that bottleneck as its reason. Each stage's `keep` filters bytes
out (dropped, reason: filtered by the stage). The output lands in its dataset on its tier; a new
version is cut every `version_every_gbytes` of new data or `version_every_h`.

Conservation, per pipeline and in total (checked by the tests):
    ingested = stored + filtered + dropped + pending (in the buffer or at a batch source)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tokenfab.factory.spec import Diurnal, FactorySpec, Pipeline, Source

GB = 1e9
DAY_S = 86400.0


def diurnal_integral(mean: float, d: Diurnal, t0: float, t1: float) -> float:
    """Integral of mean x (1 + a cos(2 pi (t/3600 - peak) / 24)) over [t0, t1) (seconds)."""
    if t1 <= t0:
        return 0.0
    w = 2 * math.pi / DAY_S
    ph = d.peak_h * 3600.0
    return mean * ((t1 - t0) + d.amplitude / w * (math.sin(w * (t1 - ph)) - math.sin(w * (t0 - ph))))


def diurnal_rate(mean: float, d: Diurnal, t: np.ndarray | float):
    return mean * (1.0 + d.amplitude * np.cos(2 * np.pi * (np.asarray(t) / 3600.0 - d.peak_h) / 24.0))


@dataclass
class DatasetState:
    name: str
    tenant: str
    tier: str
    bytes_per_token: float
    stored_bytes: float = 0.0
    initial_bytes: float = 0.0
    versions: list[tuple[int, float, float]] = field(default_factory=list)  # (version, t_s, bytes)
    since_version: float = 0.0
    growth_bytes_per_s: float = 0.0  # bytes/s added in the last epoch

    def tokens(self, max_epochs: float = 1.0) -> float:
        return self.stored_bytes / self.bytes_per_token * max_epochs


@dataclass
class PipelineState:
    spec: Pipeline
    source: Source
    buffer_bytes: float = 0.0  # stream bytes waiting
    batch_bytes: float = 0.0  # batch bytes delivered, not yet processed
    ingested: float = 0.0
    processed: float = 0.0
    stored: float = 0.0
    filtered: dict[str, float] = field(default_factory=dict)  # stage -> bytes
    dropped: dict[str, float] = field(default_factory=dict)  # reason -> bytes
    write_bytes_per_s: float = math.inf  # storage allocation for its output
    bottleneck: str = ""
    cpu_busy_s: float = 0.0  # node-seconds of processing
    series: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)
    # (t0, t1, arrived bytes, stored bytes, dropped bytes, buffer bytes at t1)

    @property
    def pending(self) -> float:
        return self.buffer_bytes + self.batch_bytes

    def stage_caps(self) -> list[tuple[str, float]]:
        """Input bytes/s the pipeline's CPU nodes can take: the stages share the nodes, so an input
        byte costs sum(share reaching stage i / stage i's bytes per node-second) node-seconds."""
        cost, share, heavy = 0.0, 1.0, ("", -1.0)
        for st in self.spec.stages:
            c = share / (st.mbytes_per_s_per_node * 1e6)
            cost += c
            heavy = max(heavy, (st.name, c), key=lambda x: x[1])
            share *= st.keep
        return [(f"CPU nodes (heaviest stage: {heavy[0]})", self.spec.nodes / cost)]


class DataLayer:
    def __init__(self, spec: FactorySpec, storage):
        self.spec = spec
        self.storage = storage
        src = {s.name: s for s in spec.sources}
        self.pipelines = [PipelineState(p, src[p.source]) for p in spec.pipelines]
        self.datasets: dict[str, DatasetState] = {}
        for d in spec.datasets:
            ds = DatasetState(d.name, d.tenant, d.tier, d.bytes_per_token, d.size_gbytes * GB, d.size_gbytes * GB)
            ds.versions.append((1, 0.0, ds.stored_bytes))
            self.datasets[d.name] = ds
            storage.tiers[d.tier].occupy(ds.stored_bytes)
        for p in self.pipelines:
            o = p.spec.output
            self.datasets[o.dataset] = DatasetState(o.dataset, p.spec.tenant, o.tier, o.bytes_per_token)
        # sources no pipeline reads: their bytes arrive and are dropped (nobody takes them)
        read = {p.source for p in spec.pipelines}
        self.orphans = [s for s in spec.sources if s.name not in read]
        self.orphan_bytes: dict[str, float] = {}
        self._batches_done: set[str] = set()

    # -- arrivals ---------------------------------------------------------------------------------
    @staticmethod
    def arriving(s: Source, t0: float, t1: float) -> float:
        if s.stream is not None:
            st = s.stream
            a = max(t0, st.start_h * 3600.0)
            b = min(t1, st.until_h * 3600.0) if st.until_h is not None else t1
            return diurnal_integral(st.bytes_per_s, st.diurnal, a, b) if b > a else 0.0
        at = s.batch.at_h * 3600.0
        return s.batch.size_gbytes * GB if t0 <= at < t1 else 0.0

    def write_demand_bytes_per_s(self, p: PipelineState, now: float, horizon_s: float) -> float:
        """Output bytes/s the pipeline would write over the next `horizon_s` if storage were no limit."""
        cap = min(c for _, c in p.stage_caps())
        s = p.source
        rate = 0.0
        if s.stream is not None:
            rate = max(
                float(diurnal_rate(s.stream.bytes_per_s, s.stream.diurnal, now)),
                float(diurnal_rate(s.stream.bytes_per_s, s.stream.diurnal, now + horizon_s)),
            )
        want = min(rate + p.pending / horizon_s, cap)
        return want * p.spec.keep

    # -- one epoch ----------------------------------------------------------------------------------
    def advance(self, t0: float, t1: float) -> None:
        dt = t1 - t0
        for s in self.orphans:
            self.orphan_bytes[s.name] = self.orphan_bytes.get(s.name, 0.0) + self.arriving(s, t0, t1)
        for ds in self.datasets.values():
            ds.growth_bytes_per_s = 0.0
        for p in self.pipelines:
            self._advance_pipeline(p, t0, t1, dt)
        self._versions_on_schedule(t0, t1)

    def _advance_pipeline(self, p: PipelineState, t0: float, t1: float, dt: float) -> None:
        arrived = self.arriving(p.source, t0, t1)
        p.ingested += arrived
        is_stream = p.source.stream is not None
        keep = p.spec.keep
        ds = self.datasets[p.spec.output.dataset]
        tier = self.storage.tiers[p.spec.output.tier]
        caps = p.stage_caps() + [("storage bandwidth", p.write_bytes_per_s / keep)]
        if dt > 0:
            caps.append((f"tier {tier.spec.name} full", tier.free_bytes / keep / dt))
        why, cap = min(caps, key=lambda c: c[1])
        cap = max(cap, 0.0)
        budget = cap * dt  # input bytes the pipeline can take this epoch
        dropped = 0.0
        if is_stream:
            q0 = p.buffer_bytes
            B = p.spec.buffer_gbytes * GB
            rate_in = arrived / dt if dt > 0 else 0.0
            if rate_in <= cap:
                take = min(budget, q0 + arrived)
                q1 = q0 + arrived - take
            else:
                take = budget
                q1 = q0 + arrived - take
            if q1 > B:
                dropped = q1 - B
                q1 = B
            p.buffer_bytes = q1
            left = budget - take
        else:
            p.batch_bytes += arrived
            take, left = 0.0, budget
        from_batch = min(left, p.batch_bytes)
        p.batch_bytes -= from_batch
        take += from_batch
        if dropped > 0:
            reason = f"backpressure: buffer full ({why})"
            p.dropped[reason] = p.dropped.get(reason, 0.0) + dropped
        p.bottleneck = why if take >= budget * 0.999 and budget > 0 else ""
        # stages filter, the rest is stored
        share = take
        for st in p.spec.stages:
            out = share * st.keep
            if share > out:
                key = f"filtered by {st.name}"
                p.filtered[key] = p.filtered.get(key, 0.0) + (share - out)
            p.cpu_busy_s += share / (st.mbytes_per_s_per_node * 1e6)
            share = out
        p.processed += take
        p.stored += share
        ds.stored_bytes += share
        ds.since_version += share
        ds.growth_bytes_per_s += share / dt if dt > 0 else 0.0
        tier.occupy(share)
        tier.write("datasets", share)
        o = p.spec.output
        if o.version_every_gbytes and ds.since_version >= o.version_every_gbytes * GB:
            n = int(ds.since_version // (o.version_every_gbytes * GB))
            for _ in range(n):
                ds.versions.append((len(ds.versions) + 1, t1, ds.stored_bytes))
            ds.since_version -= n * o.version_every_gbytes * GB
        p.series.append((t0, t1, arrived, share, dropped, p.pending))

    def _versions_on_schedule(self, t0: float, t1: float) -> None:
        for p in self.pipelines:
            h = p.spec.output.version_every_h
            if not h:
                continue
            k0, k1 = math.floor(t0 / (h * 3600.0)), math.floor(t1 / (h * 3600.0))
            ds = self.datasets[p.spec.output.dataset]
            if k1 > k0 and ds.since_version > 0:
                ds.versions.append((len(ds.versions) + 1, t1, ds.stored_bytes))
                ds.since_version = 0.0

    # -- for the training jobs --------------------------------------------------------------------
    def available_tokens(self, name: str, max_epochs: float) -> float:
        return self.datasets[name].tokens(max_epochs)

    def growth_tokens_per_s(self, name: str, max_epochs: float) -> float:
        ds = self.datasets[name]
        return ds.growth_bytes_per_s / ds.bytes_per_token * max_epochs

    # -- conservation -------------------------------------------------------------------------------
    def balance(self) -> dict:
        ingested = sum(p.ingested for p in self.pipelines) + sum(self.orphan_bytes.values())
        stored = sum(p.stored for p in self.pipelines)
        filtered = sum(sum(p.filtered.values()) for p in self.pipelines)
        dropped = sum(sum(p.dropped.values()) for p in self.pipelines) + sum(self.orphan_bytes.values())
        pending = sum(p.pending for p in self.pipelines)
        return {
            "ingested_bytes": ingested,
            "stored_bytes": stored,
            "filtered_bytes": filtered,
            "dropped_bytes": dropped,
            "pending_bytes": pending,
            "unaccounted_bytes": ingested - stored - filtered - dropped - pending,
        }
