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
- retrain: `every_h` after the previous training started, or once `new_data_gbytes` arrived since.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenfab.factory.services import autoscale
from tokenfab.factory.spec import Lifecycle
from tokenfab.workload.models import get_model

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
            return dataset_bytes >= s.train.min_dataset_gbytes * GB and dataset_bytes > 0
        if self.state != "idle" or s.retrain is None:
            return False
        if s.retrain.every_h is not None:
            return now >= (self.last_train_start_s or 0.0) + s.retrain.every_h * 3600.0 - 1e-6
        return dataset_bytes - self.data_at_train_bytes >= s.retrain.new_data_gbytes * GB


class Orchestrator:
    """Walks every lifecycle's DAG on the engine: submits its jobs, registers and deploys models."""

    def __init__(self, engine):
        self.e = engine
        self.lifecycles = [LifecycleRun(lc, k) for k, lc in enumerate(engine.spec.lifecycles)]

    def tick(self) -> None:
        e = self.e
        for lc in self.lifecycles:
            ds = e.data.datasets[lc.spec.dataset] if e.data else None
            if lc.due(e.now, ds.stored_bytes if ds else 0.0):
                self.submit_train(lc)

    def submit_train(self, lc: LifecycleRun) -> None:
        e = self.e
        s = lc.spec
        lc.runs += 1
        lc.state = "training"
        lc.last_train_start_s = e.now
        ds = e.data.datasets[s.dataset]
        lc.data_at_train_bytes = ds.stored_bytes
        w = e.spec.workloads[s.train.workload]
        j = e.new_job(
            f"{s.name}/train-{lc.runs}",
            s.tenant,
            w,
            f"workloads.{s.train.workload}.training",
            s.priority,
            stage="train",
            lifecycle=s.name,
            version=lc.runs,
            dataset=s.dataset,
            max_epochs=s.train.max_epochs,
            ckpt_setting=s.train.checkpoint_min,
            target_steps=float(s.train.steps) if s.train.steps else None,
            target_tokens=s.train.tokens,
        )
        e.job_storage_setup(j)
        lc.stages.append({"stage": "train", "job": j.name, "version": lc.runs, "start_h": e.now / 3600, "end_h": None})
        e.log(
            "lifecycle",
            f"{s.name}: training v{lc.runs} submitted ({ds.stored_bytes / 1e9:,.1f} GB of {s.dataset})",
            lifecycle=s.name,
        )

    def on_finish(self, j) -> None:
        """A stage's job ended: start the next stage."""
        e = self.e
        lc = next(x for x in self.lifecycles if x.name == j.lifecycle)
        for st in lc.stages:
            if st["job"] == j.name:
                st["end_h"] = e.now / 3600
        s = lc.spec
        if j.stage == "train" and s.evaluate:
            lc.state = "evaluating"
            w = e.spec.workloads[s.evaluate.workload]
            ev = e.new_job(
                f"{s.name}/eval-{lc.runs}",
                s.tenant,
                w,
                f"workloads.{s.evaluate.workload}.inference",
                s.priority,
                stage="evaluate",
                lifecycle=s.name,
                version=lc.runs,
                duration_s=s.evaluate.duration_h * 3600.0,
            )
            lc.stages.append({"stage": "evaluate", "job": ev.name, "version": lc.runs, "start_h": e.now / 3600, "end_h": None})
            return
        # register: write the weights to the registry tier
        lc.state = "registering"
        w = e.spec.workloads[s.train.workload]
        nbytes = get_model(w.training.model).params * 2.0
        delay = 0.0
        if e.storage is not None:
            tier = e.tenancy.registry_tier.get(s.tenant, e.spec.storage.registry_tier)
            t = e.storage.tiers[tier]
            if t.free_bytes < nbytes:
                lc.state = "idle"
                e.log(
                    "lifecycle",
                    f"{s.name}: registry tier {tier} is full: model v{lc.runs} ({nbytes / 1e9:,.1f} GB) not registered",
                    lifecycle=s.name,
                )
                return
            bw = e.storage.burst_bytes_per_s(tier, True, e.storage.client_bytes_per_s_per_server)
            delay = nbytes / bw
            t.write("models", nbytes)
            t.occupy(nbytes)
        lc.registered.append(
            {"version": lc.runs, "registered_h": (e.now + delay) / 3600, "deployed_h": None, "bytes": nbytes, "service": s.deploy}
        )
        e.push(e.now + delay, "register", lc)

    def on_registered(self, lc: LifecycleRun) -> None:
        e = self.e
        s = lc.spec
        lc.stages.append({"stage": "register", "job": "", "version": lc.runs, "start_h": e.now / 3600, "end_h": e.now / 3600})
        e.log("lifecycle", f"{s.name}: model v{lc.runs} registered", lifecycle=s.name)
        if s.deploy is None:
            lc.state = "idle"
            return
        self.deploy(lc)

    def deploy(self, lc: LifecycleRun) -> None:
        e = self.e
        s = lc.spec
        svc = e.svc_by_name[s.deploy]
        svc.version = lc.runs
        svc.deployed = True
        svc.deployed_at_s.append(e.now)
        lc.registered[-1]["deployed_h"] = e.now / 3600
        lc.version = lc.runs
        lc.state = "idle"
        lc.stages.append({"stage": "deploy", "job": s.deploy, "version": lc.runs, "start_h": e.now / 3600, "end_h": e.now / 3600})
        e.log("lifecycle", f"{s.name}: v{lc.runs} deployed to {s.deploy}", lifecycle=s.name)
        G = e.cluster.gpus_per_server
        for r in svc.replicas:  # rolling update: every running replica loads the new weights
            if r.status == "running":
                r.version = lc.runs
                e.load_weights(r, len(np.unique(r.placement // G)))
        autoscale(e, svc)
        if s.retrain and s.retrain.every_h:
            nxt = (lc.last_train_start_s or 0.0) + s.retrain.every_h * 3600.0
            if e.now < nxt < e.end:
                e.push(nxt, "tick", -1)
