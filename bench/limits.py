"""The machine's limit: TensorFlow's own matmul throughput in float32 and bfloat16, and what the CPU is.

A large square matmul is the best case for the same oneDNN kernels a training uses, so images/s divided by
(matmul FLOP/s / FLOP per training image) says how much of the machine a preset uses.

Usage: python -m bench.limits [--size 2048] [--threads 2] [--seconds 2]  (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fmnist_core.nets.presets import bfloat16_supported

DEFAULT_SIZE = 2048
DEFAULT_THREADS = 2


def git_commit() -> str:
    """HEAD's hash, with "-dirty" when the work tree has uncommitted changes to tracked files."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "-uno"],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def where_and_when() -> dict[str, Any]:
    """What every measurement JSON starts with: the commit, the time, the CPU and the load before it."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    return {
        "commit": git_commit(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_name(cpuinfo),
        "bf16": bfloat16_supported(cpuinfo=cpuinfo)[0],
        "load_average_before": list(os.getloadavg()),
    }


def cpu_name(cpuinfo: str) -> str:
    """The "model name" line of /proc/cpuinfo, or "?"."""
    return next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")


def matmul_gflops(dtype: str, size: int = DEFAULT_SIZE, seconds: float = 2.0) -> float:
    """GFLOP/s of repeated `size`x`size` matmuls in `dtype` ("float32" or "bfloat16"), after one warm-up call.

    Eager matmuls on the CPU return when the product is computed, so wall time over whole calls is honest.
    Threads are whatever the process was configured with (see `configure_threads`).
    """
    from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

    quiet_import_tensorflow()
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((size, size), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_uniform((size, size), seed=(3, 4)), dtype)
    tf.matmul(a, b).numpy()  # warm-up: oneDNN picks and caches its kernel
    calls, started = 0, time.perf_counter()
    while True:
        tf.matmul(a, b)
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and calls >= 3:
            break
    return 2 * size**3 * calls / elapsed / 1e9


def configure_threads(threads: int) -> None:
    """Pin TensorFlow's op parallelism before its first op: `threads` inside an op, one op at a time."""
    from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

    quiet_import_tensorflow()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def machine(fp32_gflops: float, bf16_gflops: float, cpuinfo: str | None = None) -> dict[str, Any]:
    """The JSON "machine" block: CPU name, cores, native bfloat16, and the two matmul limits."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    return {
        "cpu": cpu_name(cpuinfo),
        "cores": os.cpu_count(),
        "bf16": bfloat16_supported(cpuinfo=cpuinfo)[0],
        "fp32_gflops": fp32_gflops,
        "bf16_gflops": bf16_gflops,
    }


def measure(
    size: int = DEFAULT_SIZE, threads: int = DEFAULT_THREADS, seconds: float = 2.0, rounds: int = 3
) -> dict[str, Any]:
    """Both limits in this process (call it in a fresh one: thread settings are fixed after the first op).

    The best of `rounds` alternating measurements: a limit is what the machine can do, and on a shared machine
    one busy second would otherwise lower it (and flatter every fraction of it).
    """
    configure_threads(threads)
    fp32, bf16 = [], []
    for _ in range(rounds):
        fp32.append(matmul_gflops("float32", size, seconds / rounds))
        bf16.append(matmul_gflops("bfloat16", size, seconds / rounds))
    return {"fp32_gflops": max(fp32), "bf16_gflops": max(bf16), "size": size, "threads": threads, "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.size, args.threads, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
