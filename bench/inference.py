"""Inference latency of the shipped model, and the serving process's memory over consecutive trainings.

Run in a fresh process (the harness does): `python -m bench.inference [--limit 10000] [--trainings 6]`, prints JSON.
Trainings run in worker processes, so the RSS series is what a long-lived server (the job's owner) keeps.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from typing import Any

import numpy as np
import psutil

from fmnist_core import people
from fmnist_core.analysis.activations import layer_outputs
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.inference import predict_proba
from fmnist_core.runs import paths, store


def latencies(activation_images: int = 50) -> dict[str, float]:
    """Model load, whole-test-set predictions (first call and median of 3), and one new image's activations."""
    test = fashion_mnist.load_test_set()
    t = time.perf_counter()
    model = store.load_model(paths.DEFAULT_RUN_ID)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    predict_proba(model, test.images)
    first_predict = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        predict_proba(model, test.images)
        times.append(time.perf_counter() - t)
    layer_outputs(model, test.images[0])  # builds the activation model once
    act_ms = []
    for i in range(1, activation_images + 1):
        t = time.perf_counter()
        layer_outputs(model, test.images[i])
        act_ms.append((time.perf_counter() - t) * 1000)
    return {
        "model_load_seconds": load_s,
        "predict_test_set_first_seconds": first_predict,
        "predict_test_set_seconds": float(np.median(times)),
        "activations_new_image_ms_median": float(np.median(act_ms)),
        "activations_new_image_ms_p95": float(np.percentile(act_ms, 95)),
    }


def rss_over_trainings(limit: int, trainings: int = 6) -> dict[str, Any]:
    """This process's RSS after each of `trainings` one-epoch fast trainings run one after another."""
    from fmnist_core.nets.presets import TrainConfig
    from fmnist_core.training.jobs import TrainingJob

    proc = psutil.Process()
    rss = []
    for k in range(trainings):
        job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=limit, seed=k), actor=people.LOCAL).start()
        job.wait()
        del job
        gc.collect()
        rss.append(proc.memory_info().rss / 2**20)
    return {"rss_after_trainings_mb": rss, "rss_growth_after_first_mb": rss[-1] - rss[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10_000, help="training images per training")
    parser.add_argument("--trainings", type=int, default=6)
    args = parser.parse_args(argv)
    print(json.dumps({**latencies(), **rss_over_trainings(args.limit, args.trainings)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
