"""bench/: the JSON a run writes (shape, keys, commit, machine), FLOPs per image from the layers, the matmul probe,
the ratios and the README table. Timings themselves are the benchmark's, not the tests'."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench import estimate as bench_estimate
from bench import limits, startup
from bench.__main__ import format_table, ratios
from bench.train import ROW_KEYS, TrainResult, mflop_per_image, row_of
from fmnist_core.nets import architecture
from helpers import PYTHON, REAL_DATA_DIR, REPO_ROOT, requires_real_data, subprocess_env

MACHINE_KEYS = {"cpu", "cores", "bf16", "fp32_gflops", "bf16_gflops"}
ISSUE_ROW_KEYS = {
    "preset",
    "precision",
    "images_per_second",
    "fraction_of_limit",
    "seconds_to_target",
    "seconds_to_0935",
    "final_test_accuracy",
    "peak_rss_mb",
    "mflop_per_image",
}


@pytest.mark.slow
@requires_real_data
@pytest.mark.slow
def test_a_quick_run_writes_the_issues_json(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    args = ["--quick", "--preset", "notebook", "--preset", "fast", "--limit", "600", "--matmul-size", "256"]
    proc = subprocess.run(
        [PYTHON, "-m", "bench", *args, "--no-inference", "--out", str(out)],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path / "home", FMNIST_DATA_DIR=str(REAL_DATA_DIR)),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert report["commit"].removesuffix("-dirty") == head
    assert set(report["machine"]) == MACHINE_KEYS
    assert report["machine"]["fp32_gflops"] > 0 and report["machine"]["bf16_gflops"] > 0
    assert [row["preset"] for row in report["presets"]] == ["notebook", "fast"]
    seed, fast = report["presets"]
    for row in (seed, fast):
        assert set(row) == ISSUE_ROW_KEYS == set(ROW_KEYS)
        assert row["images_per_second"] > 0
        assert row["peak_rss_mb"] > 300  # the tree: the child plus its worker, which imports TensorFlow
        assert row["mflop_per_image"] == pytest.approx(mflop_per_image(row["preset"]))
        assert 0 < row["final_test_accuracy"] < 0.9  # 600 images, one epoch
        assert row["seconds_to_target"] is None and row["seconds_to_0935"] is None
    limit = report["machine"]["bf16_gflops" if fast["precision"] == "mixed_bfloat16" else "fp32_gflops"]
    assert fast["fraction_of_limit"] == pytest.approx(fast["images_per_second"] * fast["mflop_per_image"] / limit / 1e3)
    assert seed["precision"] == "float32"
    assert report["runs"]["notebook"]["epochs"] == report["runs"]["fast"]["epochs"] == 1
    assert report["runs"]["notebook"]["epoch_test_accuracy"] == [None]  # the notebook's loop: no per-epoch evaluation
    assert report["runs"]["fast"]["epoch_test_accuracy"][0] > 0
    assert "| notebook | float32 | 1 |" in proc.stdout and "fast/seed images/s" in proc.stdout


def test_flops_per_image_are_the_architectures() -> None:
    notebook = architecture.describe(architecture.NOTEBOOK_SPEC).mflop_train
    assert mflop_per_image("notebook") == mflop_per_image("fast") == notebook
    assert notebook == pytest.approx(29.557248)  # forward 10.1 + weight gradients 10.1 + input gradients 9.3
    improved = architecture.describe(architecture.PRESET_SPECS["deep_cnn"]).mflop_train
    assert mflop_per_image("improved") == improved == pytest.approx(114.115584)


def test_the_matmul_probe_returns_positive_numbers() -> None:
    assert limits.matmul_gflops("float32", size=128, seconds=0.05) > 0
    assert limits.matmul_gflops("bfloat16", size=128, seconds=0.05) > 0


def test_machine_block_names_the_cpu() -> None:
    cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 9B45\nflags\t\t: avx512f avx512_bf16\n"
    block = limits.machine(500.0, 900.0, cpuinfo=cpuinfo)
    assert set(block) == MACHINE_KEYS
    assert (block["cpu"], block["fp32_gflops"], block["bf16_gflops"]) == ("AMD EPYC 9B45", 500.0, 900.0)
    assert limits.cpu_name("flags: sse2\n") == "?"


def _result(preset: str, **changes) -> TrainResult:
    values = {
        "preset": preset,
        "precision": "float32",
        "epochs": 2,
        "images_per_second": 5000.0,
        "training_seconds": 24.0,
        "fit_seconds": 25.0,
        "final_test_accuracy": 0.92,
        "history": [
            {"epoch": 1, "test_accuracy": 0.90, "elapsed": 12.5, "seconds": 12.5},
            {"epoch": 2, "test_accuracy": 0.936, "elapsed": 25.0, "seconds": 12.5},
        ],
    }
    return TrainResult(**{**values, **changes})


def test_rows_against_their_precisions_limit_and_targets() -> None:
    lim = {"fp32_gflops": 500.0, "bf16_gflops": 1000.0}
    mflop = mflop_per_image("fast")
    bf16 = row_of(_result("fast", precision="mixed_bfloat16"), 1234.5, lim)
    assert bf16["fraction_of_limit"] == pytest.approx(5000 * mflop / 1e6)  # 5000 images x mflop / 1000 GFLOP/s
    assert (bf16["seconds_to_target"], bf16["seconds_to_0935"], bf16["peak_rss_mb"]) == (25.0, 25.0, 1234.5)
    fp32 = row_of(_result("fast"), 1.0, lim)
    assert fp32["fraction_of_limit"] == pytest.approx(2 * bf16["fraction_of_limit"])
    # Without per-epoch evaluation the final accuracy counts, reached when the fit ends.
    unevaluated = [{"epoch": 1, "test_accuracy": None, "elapsed": 25.0, "seconds": 25.0}]
    seed = row_of(_result("notebook", history=unevaluated, final_test_accuracy=0.915), 1.0, lim)
    assert (seed["seconds_to_target"], seed["seconds_to_0935"]) == (25.0, None)
    low = row_of(_result("notebook", history=unevaluated, final_test_accuracy=0.9), 1.0, lim)
    assert low["seconds_to_target"] is None


def test_ratios_and_the_readme_table() -> None:
    lim = {"fp32_gflops": 476.0, "bf16_gflops": 906.0}
    rows = [
        row_of(
            _result("notebook", final_test_accuracy=0.9101, history=[{"test_accuracy": None, "elapsed": 60.0}]),
            2e3,
            lim,
        ),
        row_of(_result("fast", precision="mixed_bfloat16", images_per_second=12500.0), 1500.0, lim),
        row_of(
            _result("improved", precision="mixed_bfloat16", history=[{"test_accuracy": 0.94, "elapsed": 240.0}]), 1, lim
        ),
    ]
    runs = {
        p: {"epochs": 5, "fit_seconds": 25.0 if p == "notebook" else 50.0} for p in ("notebook", "fast", "improved")
    }
    q = ratios(rows, runs)
    assert q["fast_vs_seed_images_per_second"] == pytest.approx(2.5)
    assert q["fast_seconds_to_target_vs_seed_wall"] == pytest.approx(25.0 / 25.0)
    assert q["improved_seconds_to_0935_vs_seed_wall"] == pytest.approx(240.0 / 25.0)
    report = {
        "machine": limits.machine(476.0, 906.0, cpuinfo="model name\t: AMD EPYC\n"),
        "commit": "0123456789abcdef",
        "measured_at": "2026-11-28 15:10 UTC",
        "presets": rows,
        "runs": runs,
        "ratios": q,
    }
    text = format_table(report)
    assert "476 GFLOP/s float32, 906 GFLOP/s bfloat16" in text and "Commit 0123456789ab" in text
    fast = next(line for line in text.splitlines() if line.startswith("| fast "))
    assert "| mixed_bfloat16 | 5 | 12,500 | 29.6 | 41% | 25.0 | 25.0 | 0.9200 | 1,500 |" in fast
    seed = next(line for line in text.splitlines() if line.startswith("| notebook "))
    assert "| never | never | 0.9101 |" in seed
    assert "fast/seed images/s **2.50x**" in text and "improved reaches 0.935 at 9.60x it" in text


def test_fmnist_core_imports_nothing_from_bench_ui_or_pages() -> None:
    """The domain stands alone: the benchmark, the pages and their helpers are built on it, never the reverse."""
    offenders = []
    for path in sorted((REPO_ROOT / "fmnist_core").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1 and words[1].split(".")[0] in BESIDE:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders


BESIDE = {"bench", "ui", "pages", "streamlit", "plotly"}


def test_startup_summary_is_per_mode_median_min_max() -> None:
    def row(mode: str, first: float | None, result: float) -> dict:
        return {
            "mode": mode,
            "first_batch_s": first,
            "result_s": result,
            "worker_cpu_s_to_first_batch": None,
            "worker_cpu_s_to_result": result / 2,
        }

    rounds = [row("cold", 9.0, 12.0), row("warm", 2.0, 5.0), row("cold", 7.0, 10.0), row("warm", None, 4.0)]
    summary = startup.summarize(rounds)
    assert summary["cold"]["first_batch_s"] == {"median": 8.0, "min": 7.0, "max": 9.0}
    assert summary["warm"]["first_batch_s"] == {"median": 2.0, "min": 2.0, "max": 2.0}  # a missing value is skipped
    assert summary["warm"]["result_s"] == {"median": 4.5, "min": 4.0, "max": 5.0}
    assert summary["cold"]["worker_cpu_s_to_result"]["median"] == 5.5
    assert "worker_cpu_s_to_first_batch" not in summary["cold"]


@pytest.mark.slow
@requires_real_data
@pytest.mark.slow
def test_the_startup_bench_writes_cold_and_warm_rounds(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    proc = subprocess.run(
        [PYTHON, "-m", "bench.startup", "--rounds", "1", "--limit", "300", "--out", str(out)],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path / "home", FMNIST_DATA_DIR=str(REAL_DATA_DIR)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert report["commit"].removesuffix("-dirty") == head and report["cpu"]
    assert report["training"] == {"preset": "fast", "epochs": 1, "images": 300}
    cold, warm = report["rounds"]
    assert (cold["mode"], warm["mode"]) == ("cold", "warm")
    assert cold["warm_up_s"] is None and warm["warm_up_s"] > 0 and warm["warm_worker_rss_mb"] > 300
    for row in (cold, warm):
        assert 0 < row["first_batch_s"] < row["result_s"]
        assert 0 < row["worker_cpu_s_to_first_batch"] < row["worker_cpu_s_to_result"]
        assert row["test_accuracy"] > 0.1 and row["worker_peak_rss_mb"] > 300
    assert "loading TensorFlow" in cold["phases_first_seen_s"]  # after the click, for a cold worker
    assert warm["worker_pid"] != cold["worker_pid"]
    assert set(report["summary"]) == {"cold", "warm"}


def test_the_estimate_check_trains_each_network_twice_and_reports_ratios() -> None:
    order = bench_estimate.cases(list(bench_estimate.NETWORKS), bench_estimate.SIZES["quick"])
    assert [(c.network, c.step) for c in order][:4] == [
        ("fast", "first"),
        ("fast", "second"),
        ("notebook", "first"),
        ("notebook", "second"),
    ]
    assert {c.network for c in order} == {"fast", "notebook", "improved", "custom-small", "custom-wide"}
    assert [(c.config.limit, c.config.epochs) for c in order[:2]] == [(3_000, 1), (6_000, 2)]
    wide = next(c for c in order if c.network == "custom-wide")
    assert wide.config.preset == "custom" and wide.config.arch == bench_estimate.WIDE_NETWORK

    from fmnist_core.training.estimate import MEASURED, Estimate

    guess = Estimate(100.0, 85.0, 120.0, 60.0, 20.0, 0.002, 5.0, MEASURED, ("r1",), "Based on 1 run.")
    second = bench_estimate.row(order[1], guess, 130.0, {"total_seconds": 129.04})
    assert second["ratio"] == 1.3 and second["estimate"]["confidence"] == MEASURED
    assert (second["images"], second["epochs"], second["batch_size"]) == (6_000, 2, 128)
    assert second["run_timings"] == {"total_seconds": 129.04}
    first = bench_estimate.row(order[0], None, 40.0, {})
    assert first["estimate"] is None and first["ratio"] is None
    table = bench_estimate.format_table(
        {
            "cpu": "AMD EPYC",
            "commit": "0123456789abcdef",
            "measured_at": "now",
            "mode": "quick",
            "rows": [first, second],
        }
    )
    assert "| fast | 3,000 x 1 | none (nothing measured here yet) | - | 40 s | - |" in table
    assert "| fast | 6,000 x 2 | 100 s (85-120) | measured | 130 s | 1.30 |" in table


def test_docs_performance_tables_are_what_bench_measured_gives() -> None:
    """docs/performance.md's tables are regenerated from bench/measured/, never typed: the file is in sync."""
    from bench import report

    assert report.main(["--check"]) == 0, "run python -m bench.report"
    text = report.DOC.read_text()
    assert {m["name"] for m in report._BLOCK.finditer(text)} == set(report.TABLES)


def test_a_changed_measurement_changes_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import report

    summary = {"median": 1.234, "min": 1.0, "max": 2.0}
    measured = {
        "commit": "abcdef1234",
        "measured_at": "2026-11-29 20:00 UTC",
        "cpu": "Test CPU",
        "load_average_before": [0.5, 0.4, 0.3],
        "training": {"preset": "fast", "epochs": 1, "images": 600},
        "rounds": [{}, {}],
        "summary": {"warm": {"first_batch_s": summary, "result_s": summary, "worker_cpu_s_to_result": summary}},
    }
    (tmp_path / "startup.json").write_text(json.dumps(measured))
    monkeypatch.setattr(report, "MEASURED", tmp_path)
    out = report.render("a\n<!-- table:startup -->\nold\n<!-- /table:startup -->\nb\n")
    assert "| warm | 1.2 s (1.0–2.0) | 1.2 s (1.0–2.0) | 1.2 |" in out
    assert "Test CPU, commit abcdef1, 2026-11-29 20:00 UTC, load average 0.5 before." in out
    assert (
        "old" not in out
        and out.startswith("a\n<!-- table:startup -->\n")
        and out.endswith("<!-- /table:startup -->\nb\n")
    )


def test_tsne_agreement_counts_each_points_nearest_neighbours_of_its_class() -> None:
    from bench.tsne import agreement

    # Two tight clusters far apart: every neighbour of a point is of its class, whatever the chunking.
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.1, (30, 2)), rng.normal(50, 0.1, (30, 2))])
    labels = np.repeat([0, 1], 30)
    assert agreement(points, labels, k=5, chunk=7) == 1.0
    # Labels that alternate inside each cluster: about half of the neighbours share a point's class.
    assert 0.3 < agreement(points, np.arange(60) % 2, k=5, chunk=7) < 0.7


@pytest.mark.parametrize(
    ("cmdline", "kind"),
    [
        (
            "/v/bin/python -B -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6, pipe_handle=8)",
            0,
        ),
        ("/usr/lib/chromium/chromium --type=renderer --no-sandbox", 1),
        ("/v/bin/python -m streamlit run app.py --server.port 46005", 2),
        ("/v/bin/python /v/lib/python3.11/site-packages/ray/_private/workers/default_worker.py --node-ip-address", 3),
        ("/v/bin/python -m fmnist_core train --home /tmp/pytest-of-root/pytest-1/t0/home", 4),
        ("/v/bin/python -u -c import sys;exec(eval(sys.stdin.readline()))", 5),
        ("/v/bin/python /tmp/pytest-of-root/pytest-1/test_server0/stand_in.py", 5),
        ("", None),
    ],
)
def test_suite_cpu_files_each_process_under_its_kind(cmdline: str, kind: int | None) -> None:
    from bench import suite_cpu

    assert suite_cpu.kind_of(cmdline) == (suite_cpu.KINDS[kind][0] if kind is not None else suite_cpu.OTHER)


def test_suite_cpu_counts_the_commands_process_tree_and_nothing_else() -> None:
    from bench import suite_cpu

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < {}: pass\nprint('spun')"
    outside = subprocess.Popen([PYTHON, "-c", spin.format(3.0)], stdout=subprocess.DEVNULL)  # not the command's
    try:
        command = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin.format(1.5)!r}])"
        report = suite_cpu.measure([PYTHON, "-c", command], interval=0.2)
    finally:
        outside.wait(30)
    assert report["returncode"] == 0 and report["last_line"] == "spun"
    spent = report["kinds"][suite_cpu.OTHER]  # the command and its child (a grandchild would count alike)
    assert spent["processes"] == 2 and 1.0 <= spent["cpu_s"] < 2.5, spent  # the outside spinner's 3 s left out


def test_seeds_are_summarised_against_the_notebooks_wall_time() -> None:
    from bench.__main__ import format_seeds, seed_summary

    def seed(n: int, final: float, to_930: float | None, to_935: float | None) -> dict:
        return {
            "seed": n,
            "final_test_accuracy": final,
            "mirror_accuracy": final + 0.002,
            "startup_seconds": 5.0,
            "total_seconds": 110.0,
            "epoch_test_accuracy": [final],
            "seconds_from_click": {"0.93": to_930, "0.935": to_935},
        }

    runs = [seed(1, 0.931, 90.0, None), seed(2, 0.933, 100.0, None), seed(3, 0.929, None, None)]
    summary = seed_summary(runs, notebook_wall=100.0)
    assert summary["mean_final_test_accuracy"] == pytest.approx(0.931)
    assert summary["spread_final_test_accuracy"] == pytest.approx(0.004)
    assert summary["mean_mirror_accuracy"] == pytest.approx(0.933)
    assert summary["mean_total_vs_notebook_wall"] == pytest.approx(1.1)
    assert summary["targets"]["0.93"]["seeds_reaching"] == 2
    assert summary["targets"]["0.93"]["worst_vs_notebook_wall"] is None  # one seed never got there
    all_reach = seed_summary(runs[:2], notebook_wall=100.0)
    assert all_reach["targets"]["0.93"]["worst_vs_notebook_wall"] == pytest.approx(1.0)
    text = "\n".join(format_seeds({"seeds": {"speedrun": {"runs": runs, "summary": summary}}}))
    assert "| speedrun | 3 | 0.9290 | 0.9310 | never | never | 110.0 |" in text
    assert "mean final test accuracy **0.9310** (spread 0.0040 over 3 seeds)" in text
    assert "0.93 reached by 2 of 3 seeds" in text


@pytest.mark.slow
@requires_real_data
def test_class_queue_times_a_small_class_through_the_real_queue(tmp_path: Path) -> None:
    """Two people, one tiny training each: both through the fair queue, each result and the last one timed."""
    out = tmp_path / "class.json"
    proc = subprocess.run(
        [PYTHON, "-m", "bench.class_queue", "--people", "2", "--epochs", "1", "--limit", "512", "--out", str(out)],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path / "home", FMNIST_DATA_DIR=str(REAL_DATA_DIR), FMNIST_PREPARE_RUNS="0"),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert (report["people"], report["preset"], report["at_once"]) == (2, "quick", 2)
    rows = report["rows"]
    assert sorted(r["who"] for r in rows) == ["student01@bench", "student02@bench"]
    assert all(0 < r["test_accuracy"] <= 1 and r["ended_after_seconds"] > r["started_after_seconds"] for r in rows)
    assert report["seconds_to_last_result"] == max(r["ended_after_seconds"] for r in rows)
    assert sorted(report["order_served"]) == sorted(r["who"] for r in rows)
    assert report["met"] is False  # 512 images are far from 0.90
