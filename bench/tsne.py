"""The Embedding page's t-SNE settings against openTSNE's, side by side in one run: time and how well the map
keeps each image among its own class.

    python -m bench.tsne                 # the shipped default model -> bench/measured/tsne.json
    python -m bench.tsne --rounds 3      # each setting three times, alternating (the median is reported)

Features are the last hidden layer of the 10,000 test images, computed once; every setting then runs
`embedding.tsne` on them with n_jobs=2 and seed 0, rounds alternating so a drifting machine hits all settings alike.
`agreement` is the share of each image's 10 nearest map neighbours that have its class (PCA's is given for scale).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.limits import where_and_when
from fmnist_core.analysis import embedding
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "measured" / "tsne.json"
SETTINGS: dict[str, dict[str, Any]] = {
    "app (TSNE_OPTIONS)": {},
    "Annoy neighbours, fine grid (the app before)": {"neighbors": "annoy", "n_interpolation_points": 3},
    "openTSNE defaults (250 + 500 iterations)": {
        "neighbors": "annoy",
        "n_interpolation_points": 3,
        "early_exaggeration_iter": 250,
        "n_iter": 500,
    },
}


def agreement(points: np.ndarray, labels: np.ndarray, k: int = 10, chunk: int = 1000) -> float:
    """Share of each point's k nearest other points (Euclidean, in the map) with the same label."""
    hits = 0
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        d = ((block[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        nearest = np.argpartition(d, k, axis=1)[:, :k]
        hits += int((labels[nearest] == labels[start : start + len(block), None]).sum())
    return hits / (len(points) * k)


def main(argv: list[str] | None = None) -> int:
    """Measure every setting `--rounds` times and write the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="default", help="which saved run's model (default: the shipped one)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not embedding.tsne_available():
        print("openTSNE is not installed", file=sys.stderr)
        return 2
    record = where_and_when()
    test = fashion_mnist.load_test_set()
    labels = test.labels.astype(int)
    features = embedding.features(store.load_model(args.run), test.images)
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    scores: dict[str, float] = {}
    for round_ in range(args.rounds):
        for name, options in SETTINGS.items():
            start = time.perf_counter()
            points = embedding.tsne(features, seed=0, options=options)
            seconds[name].append(time.perf_counter() - start)
            scores[name] = agreement(points, labels)
            print(f"round {round_ + 1}: {name}: {seconds[name][-1]:.2f} s, agreement {scores[name]:.4f}", flush=True)
    record.update(
        run=args.run,
        rounds=args.rounds,
        pca_agreement=round(agreement(embedding.pca(features), labels), 4),
        settings={
            name: {
                "options": {**embedding.TSNE_OPTIONS, **SETTINGS[name]},
                "median_seconds": round(statistics.median(seconds[name]), 2),
                "seconds": [round(s, 2) for s in seconds[name]],
                "agreement": round(scores[name], 4),
            }
            for name in SETTINGS
        },
    )
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
