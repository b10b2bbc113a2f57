"""What a training worker's first step costs: importing TensorFlow and Keras, with and without scikit-learn.

    python -m bench.imports [--rounds 7]        # -> bench/measured/imports.json

Each round starts two fresh Python processes, alternating, that time `quiet_import_tensorflow(without_sklearn=...)`:
Keras imports scikit-learn (and SciPy) only for its scikit-learn wrappers, which a worker never uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.limits import where_and_when

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "measured" / "imports.json"
CODE = (
    "import time; t = time.perf_counter()\n"
    "from fmnist_core.nets.quiet_tf import quiet_import_tensorflow\n"
    "quiet_import_tensorflow(without_sklearn={flag})\n"
    "print(time.perf_counter() - t)\n"
)
MODES = {"with scikit-learn (the server)": False, "without scikit-learn (a worker)": True}


def main(argv: list[str] | None = None) -> int:
    """Time both imports `--rounds` times each, alternating, and write the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    record = where_and_when()
    seconds: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(args.rounds):
        for name, flag in MODES.items():
            out = subprocess.run(
                [sys.executable, "-c", CODE.format(flag=flag)], cwd=ROOT, capture_output=True, text=True, check=True
            )
            seconds[name].append(round(float(out.stdout.strip().splitlines()[-1]), 3))
    record.update(
        rounds=args.rounds,
        seconds=seconds,
        median_seconds={name: round(statistics.median(values), 3) for name, values in seconds.items()},
    )
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    for name, median in record["median_seconds"].items():
        print(f"{name}: median {median:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
