"""fmnist_core/settings.py: the one reader of FMNIST_* variables, and the README's table of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fmnist_core import settings
from helpers import REPO_ROOT  # noqa: E402


def readme_variables() -> list[str]:
    """The FMNIST_* names in the first column of README.md's "Configuration" table."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(FMNIST_[A-Z_]+)` \|", section, flags=re.MULTILINE)


def test_readme_table_lists_exactly_the_settings() -> None:
    listed = readme_variables()
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert sorted(listed) == sorted(s.name for s in settings.SETTINGS)


THIRD_PARTY = ("TF_CPP_MIN_LOG_LEVEL", "KERAS_HOME", "RAY_ENABLE_AUTO_CONNECT")  # theirs, not ours


def test_no_other_module_reads_fmnist_variables_from_the_environment() -> None:
    readers = []
    sources = [*REPO_ROOT.glob("fmnist_core/**/*.py"), *REPO_ROOT.glob("ui/**/*.py"), *REPO_ROOT.glob("pages/*.py")]
    assert len(sources) > 100  # every subpackage is read
    for path in sources:
        if path == REPO_ROOT / "fmnist_core" / "settings.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"os\.environ|os\.getenv", line) and not any(name in line for name in THIRD_PARTY):
                readers.append(f"{path.relative_to(REPO_ROOT)}: {line.strip()}")
    assert readers == []


def test_defaults_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for s in settings.SETTINGS:
        monkeypatch.delenv(s.name, raising=False)
    assert settings.home() == Path("models")
    assert settings.data_dir() is None
    assert settings.max_trainings() == 2
    assert settings.warm_idle_seconds() == 300.0
    assert settings.worker_scheduling() == "nice"
    assert settings.ray_address() is None
    assert settings.ray_cpus() == 2.0
    assert settings.test_fault() == ""
    assert settings.timings_file() is None
    assert settings.teachers() == frozenset()
    assert settings.run_visibility() == "class"
    assert settings.trainings_per_user() == 1
    assert settings.runs_per_user() == 20


def test_values_are_parsed_and_bad_ones_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.TEACHERS, " ada@school.org, ,bob@school.org ")
    monkeypatch.setenv(settings.RUN_VISIBILITY, "PRIVATE")
    monkeypatch.setenv(settings.TRAININGS_PER_USER, "3")
    monkeypatch.setenv(settings.RUNS_PER_USER, "zero")
    monkeypatch.setenv(settings.MAX_TRAININGS, "0")
    monkeypatch.setenv(settings.RAY_ADDRESS, "  ")
    assert settings.teachers() == frozenset({"ada@school.org", "bob@school.org"})
    assert settings.run_visibility() == "private"
    assert settings.trainings_per_user() == 3
    assert settings.runs_per_user() == 20  # not a number: the default
    assert settings.max_trainings() == 1  # at least one
    assert settings.ray_address() is None  # blank is unset
    monkeypatch.setenv(settings.RUN_VISIBILITY, "everyone")
    assert settings.run_visibility() == "class"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(KeyError, match="not a setting"):
        settings.raw("FMNIST_NOPE")


def test_without_test_fault_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.TEST_FAULT, "exit-at-batch")
    with settings.without_test_fault():
        assert settings.test_fault() == ""
    assert settings.test_fault() == "exit-at-batch"


def test_the_served_config_skips_streamlits_gc_pass_and_file_watcher() -> None:
    """A gc.collect(2) after every rerun cost ~200 ms a click with TensorFlow loaded, and the watchdog
    watcher put ~1,400 inotify watches on .venv. Both are off in the config `make run` serves with."""
    import tomllib

    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"
