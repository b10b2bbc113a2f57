"""How long each explanation takes for one image on the server, for the notebook's network (the shipped default).

    python -m bench.explain [--images 8] [--page 10] [--out bench/measured/explain.json]

First call (traces the compiled helpers once per loaded model) and the median of warm calls over several test
images, for each method, the worst occlusion setting (2-px patch, stride 1: 729 positions), the smallest flip and
the randomisation test (every method after each of the network's layers); with --page, the Test images page's
whole rerun under AppTest when a new image is chosen (its four explanations computed afresh). Numbers, not
pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.limits import where_and_when
from fmnist_core.data import fashion_mnist
from fmnist_core.explain import attributions, flip, sanity
from fmnist_core.runs import paths, store

ROOT = Path(__file__).resolve().parent.parent


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def series(name: str, calls: list[Callable[[], Any]]) -> dict[str, Any]:
    """The first call alone, then the median and maximum of the others."""
    seconds = [timed(c) for c in calls]
    warm = seconds[1:] or seconds
    row = {
        "what": name,
        "first_s": round(seconds[0], 3),
        "median_s": round(statistics.median(warm), 3),
        "max_s": round(max(warm), 3),
        "n": len(warm),
    }
    print(f"{name:<34} first {row['first_s']:.3f} s, median {row['median_s']:.3f} s", file=sys.stderr, flush=True)
    return row


def measure(images: int) -> dict[str, Any]:
    report = {**where_and_when(), "command": f"python -m bench.explain --images {images}", "model": "default"}
    test = fashion_mnist.load_test_set()
    model = store.load_model(paths.DEFAULT_RUN_ID)
    pics = [test.images[i] for i in range(images + 1)]
    rows = [
        series(f"attribute {m}", [lambda m=m, p=p: attributions.attribute(model, p, None, m) for p in pics])
        for m in attributions.METHODS
    ]
    rows.append(
        series(
            "attribute occlusion patch 2 stride 1",
            [lambda p=p: attributions.attribute(model, p, None, "occlusion", patch=2, stride=1) for p in pics],
        )
    )
    rows.append(
        series("all four methods (the panel)", [lambda p=p: attributions.attribute_all(model, p) for p in pics])
    )
    rows.append(series("smallest flip", [lambda p=p: flip.smallest_flip(model, p) for p in pics]))
    rows.append(
        series("randomisation test, 4 methods", [lambda p=p: sanity.randomisation_test(model, p) for p in pics[:3]])
    )
    report["rows"] = rows
    return report


def page_reruns(images: int) -> dict[str, Any]:
    """Seconds of the Test images page's rerun under AppTest for images 1..n (each new: four methods computed)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/test_images.py")
    at.query_params["image"] = "0"
    at.run()  # loads the model, the test set, the predictions and traces the helpers
    seconds = []
    for index in range(1, images + 1):
        at.query_params["image"] = str(index)
        started = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - started)
        if at.exception or f"Test image #{index}" not in [h.value for h in at.subheader]:
            raise RuntimeError(f"the page did not show image {index}: {[e.value for e in at.exception]}")
    row = {
        "what": "Test images rerun on a new image (AppTest)",
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "n": images,
    }
    print(f"{row['what']:<34} median {row['median_s']:.3f} s, max {row['max_s']:.3f} s", file=sys.stderr)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="warm calls per method (default 8)")
    parser.add_argument("--page", type=int, default=0, help="also time the page's rerun on this many new images")
    parser.add_argument("--out", default=str(ROOT / "bench" / "measured" / "explain.json"))
    args = parser.parse_args(argv)
    report = measure(args.images)
    if args.page:
        report["command"] += f" --page {args.page}"
        report["rows"].append(page_reruns(args.page))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
