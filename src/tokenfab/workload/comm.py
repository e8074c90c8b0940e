"""The one narrow interface through which workloads learn how long communication takes.

A workload lists the collectives it issues (`Collective`: kind, the GPU groups that run it at the
same time, the message size, how often per step); a `CommModel` turns one into seconds on the
placed GPUs, and, for jobs that run at the same time, says how much they slow each other down.
Two implementations: `tokenfab.factory.network.AnalyticalComm` (alpha-beta from link speeds and
the placement) and the flow simulator's model when it is available.

Sizes follow nccl-tests: `size_bytes` is the buffer per rank (all-reduce: the vector reduced;
all-gather / reduce-scatter: the full gathered vector; all-to-all: what one rank sends in total;
send-recv: what each rank sends to each neighbour of its chain, both directions; send: what each
rank sends to the next one in its row, one direction).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

Kind = Literal["all_reduce", "reduce_scatter", "all_gather", "all_to_all", "send_recv", "send"]
KINDS: tuple[str, ...] = ("all_reduce", "reduce_scatter", "all_gather", "all_to_all", "send_recv", "send")


@dataclass(frozen=True, eq=False)
class Collective:
    """One collective as a workload issues it.

    groups: int array (n_groups, group_size) of global GPU ids; every group runs at the same time
    (e.g. the 128 data-parallel groups of a job). For send_recv, each row is a chain: member i
    sends `size_bytes` to member i+1 and (both directions) i+1 to i, as a pipeline does per
    micro-batch forward and backward. For send, member i sends to member i+1 only.
    """

    kind: str
    groups: np.ndarray
    size_bytes: float
    parallelism: str  # tp | pp | dp | ep | cp | kv (what issues it, for reports)
    count: float = 1.0  # times per step (training) or per decode iteration (inference)
    overlap: float = 0.0  # fraction of its time hidden behind compute

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown collective {self.kind!r}")
        g = np.asarray(self.groups, dtype=np.int64)
        if g.ndim != 2:
            raise ValueError("groups must be a 2-D array (n_groups, group_size)")
        object.__setattr__(self, "groups", g)

    @property
    def group_size(self) -> int:
        return int(self.groups.shape[1])

    @property
    def key(self) -> tuple:
        """Identity for caches: the same kind, GPUs and size always take the same time on an
        unchanged fabric."""
        return (self.kind, self.groups.shape, hash(self.groups.tobytes()), float(self.size_bytes))


@dataclass
class CommTime:
    """Time of one occurrence of a collective, split so reports can tell NVLink from network."""

    time_s: float
    network: bool  # some of its traffic leaves a server (crosses the NIC and the fabric)
    bottleneck: str = ""  # what bounds it ("nvlink", "nic", "leaf-r1-2 uplinks", ...)


@dataclass
class JobTraffic:
    """What one running job puts on the network per step, for contention between jobs."""

    key: Hashable
    collectives: Sequence[Collective]
    step_s: float  # the job's step (or decode-iteration) time when running alone


@dataclass
class Contention:
    """Result of sharing the fabric: per job, the factor its network communication time is
    stretched by (1.0 = as if alone), and the shared links (or link groups) each job contends on."""

    stretch: dict[Hashable, float]
    contended: dict[Hashable, list[str]] = field(default_factory=dict)
    link_load: dict[str, float] = field(default_factory=dict)  # utilisation of each loaded shared resource


class CommModel(Protocol):
    """How long collectives take on a placed fabric."""

    name: str

    def time(self, c: Collective) -> CommTime:
        """One occurrence of `c`, running alone on the fabric."""
        ...

    def time_s(self, kind: str, gpu_group: np.ndarray, size_bytes: float) -> float:
        """Convenience: one collective over one group (a 1-D array of GPU ids)."""
        ...

    def contention(self, jobs: Sequence[JobTraffic]) -> Contention:
        """Jobs running at the same time share the fabric: how much each one's network time stretches."""
        ...
