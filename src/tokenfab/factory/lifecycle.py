"""Orchestration: a model's lifecycle as a small DAG the engine walks.

    wait for data -> train (or fine-tune) -> evaluate -> register -> deploy -> serve
          ^                                                                   |
          +---------------- retrain: on a schedule or on new data -----------+

- train: a training job reading the lifecycle's dataset (it starves when the pipeline cannot keep
  up), checkpointing, restarting after failures; placed by the factory's scheduler under the
  tenant's quota and sovereignty.
- evaluate: an inference job over the evaluation set for `duration_h`.
- register: the model's weights (BF16, 2 bytes per parameter) written to the registry tier.
- deploy: the service switches to the new version (its replicas reload the weights) or starts.
- retrain: `every_h` after the previous training started, or once `new_data_gb` arrived since.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenfab.factory.spec import Lifecycle

GB = 1e9


@dataclass
class LifecycleRun:
    spec: Lifecycle
    index: int
    state: str = "waiting"  # waiting (for its start or data) | training | evaluating | registering | idle
    version: int = 0
    runs: int = 0
    last_train_start_s: float | None = None
    data_at_train_bytes: float = 0.0
    stages: list[dict] = field(default_factory=list)  # (stage, job, version, start_h, end_h) for the timeline
    registered: list[dict] = field(default_factory=list)  # model versions: registered_h, deployed_h, bytes

    @property
    def name(self) -> str:
        return self.spec.name

    def due(self, now: float, dataset_bytes: float) -> bool:
        """Should a training run start now?"""
        s = self.spec
        if now < s.start_h * 3600.0:
            return False
        if self.state == "waiting":
            return dataset_bytes >= s.train.min_dataset_gb * GB and dataset_bytes > 0
        if self.state != "idle" or s.retrain is None:
            return False
        if s.retrain.every_h is not None:
            return now >= (self.last_train_start_s or 0.0) + s.retrain.every_h * 3600.0 - 1e-6
        return dataset_bytes - self.data_at_train_bytes >= s.retrain.new_data_gb * GB
