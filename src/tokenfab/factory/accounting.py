"""GPU time by cause: every GPU-second of the window is booked to exactly one `Cause`.

One numpy vector of `len(Cause)` GPU-seconds per job (its own time), one for the run (time no job
held: servers down, GPUs free while jobs queue, unallocated), and one of GPU-equivalents per epoch
(for the timeline). The ledger, the CSVs and the plots' colours all read `Cause` names, so
conservation is one line: the run's vector plus every job's sums to GPUs x window.

    computing            GPUs busy with the job's kernels
    network              waiting on the backend fabric (exposed communication)
    storage              waiting on storage: dataset reads below their rate, checkpoint writes, weight loads
    pipeline_starvation  the job's dataset has no new data yet
    failures             restarting after an interruption, work redone, servers out of service
    queueing             free GPUs while jobs wait in the queue (placement, quota, fragmentation)
    low_demand           a service replica's capacity its requests did not use
    other_overhead       pipeline bubble, NVLink communication, optimizer, idle at a job's end
    unallocated          free GPUs nobody asked for
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Cause(IntEnum):
    COMPUTING = 0
    NETWORK = 1
    STORAGE = 2
    PIPELINE_STARVATION = 3
    FAILURES = 4
    QUEUEING = 5
    LOW_DEMAND = 6
    OTHER_OVERHEAD = 7
    UNALLOCATED = 8

    @property
    def label(self) -> str:
        """The name the ledger, CSVs and plots use."""
        return self.name.lower()


N_CAUSES = len(Cause)

# one colour per cause, for every plot of GPU time
COLOURS: dict[Cause, str] = {
    Cause.COMPUTING: "#2b8a3e",
    Cause.NETWORK: "#e8590c",
    Cause.STORAGE: "#7048e8",
    Cause.PIPELINE_STARVATION: "#f59f00",
    Cause.FAILURES: "#c92a2a",
    Cause.QUEUEING: "#1971c2",
    Cause.LOW_DEMAND: "#94d82d",
    Cause.OTHER_OVERHEAD: "#adb5bd",
    Cause.UNALLOCATED: "#f1f3f5",
}

# how a job's productive time splits when its work since the last checkpoint is lost (see rollback)
_WORK_CAUSES = (Cause.COMPUTING, Cause.NETWORK, Cause.OTHER_OVERHEAD, Cause.STORAGE)


def zeros() -> np.ndarray:
    """An empty GPU-time vector, indexed by Cause."""
    return np.zeros(N_CAUSES)


def by_label(v: np.ndarray) -> dict[str, float]:
    """A GPU-time vector as {cause name: value}, in Cause order."""
    return {c.label: float(v[c]) for c in Cause}


def total(run_gpu_s: np.ndarray, job_gpu_s: list[np.ndarray]) -> np.ndarray:
    """The window's GPU-seconds by cause: every job's (in job order) plus the run's own."""
    out = zeros()
    for v in job_gpu_s:
        out += v
    return out + run_gpu_s


def unaccounted_gpu_s(by_cause: dict[str, float], gpus: int, window_s: float) -> float:
    """GPUs x window minus what was booked (zero but for rounding: conservation)."""
    return gpus * window_s - sum(by_cause.values())


def rollback(gpu_s: np.ndarray, lost_s: float, busy: float, net: float, storage_factor: float) -> float:
    """Move the GPU time that computed lost work to `failures`, in the shares the job spent it
    (computing, network, other overhead at `storage_factor`, storage for the rest). Returns the
    GPU-seconds moved."""
    other = max(1.0 - busy - net, 0.0)
    shares = (busy * storage_factor, net * storage_factor, other * storage_factor, 1.0 - storage_factor)
    moved = 0.0
    for cause, share in zip(_WORK_CAUSES, shares):
        take = min(float(gpu_s[cause]), lost_s * share)
        gpu_s[cause] -= take
        moved += take
    gpu_s[Cause.FAILURES] += moved
    return moved
