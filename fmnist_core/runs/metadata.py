"""What a run's JSON holds: RunMetadata (typed, versioned, unknown keys kept) and RunInfo (a run as listed).

Readers accept every version ever written; a run's label (name, else preset and time; accuracy) is made here so
every picker and chart says the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from fmnist_core import people
from fmnist_core.errors import StoreError
from fmnist_core.nets import architecture
from fmnist_core.nets.architecture import LayerRow
from fmnist_core.nets.presets import TrainConfig, preset_name
from fmnist_core.runs.records import EpochRow, layer_dict, layer_row, split_known
from fmnist_core.runs.records import number as _number
from fmnist_core.runs.records import settings as _read_settings
from fmnist_core.runs.records import text as _text
from fmnist_core.runs.records import whole as _whole

# Version 1: files written before RunMetadata existed (no "version" key); 2: adds version, arch, executor, node,
# and the imported-model fields (input_scaling, imported_from, notes); 3: adds timings; 4: adds owner. Readers
# accept them all (a run without owner belongs to nobody: people.check_delete).
METADATA_VERSION = 4


# How each field is read from JSON: a converter returning None when the stored value has the wrong type.
_READERS: dict[str, Any] = {
    "version": _whole,
    "id": _text,
    "created": _text,
    "status": _text,
    "preset": _text,
    "architecture": _text,
    "arch": lambda v: v if isinstance(v, dict) else None,
    "settings": lambda v: v if isinstance(v, dict) else None,
    "history": lambda v: v if isinstance(v, list) and all(isinstance(x, dict) for x in v) else None,
    "batch_trace": lambda v: v if isinstance(v, list) else None,
    "test_loss": _number,
    "test_accuracy": _number,
    "mirror_accuracy": _number,
    "seconds": _number,
    "train_seconds": _number,
    "samples_per_second": _number,
    "seconds_to_target": _number,
    "target_accuracy": _number,
    "train_images": _whole,
    "precision": _text,
    "precision_note": _text,
    "versions": lambda v: v if isinstance(v, dict) else None,
    "data_fingerprint": _text,
    "command": _text,
    "params": _whole,
    "summary": lambda v: v if isinstance(v, list) and all(isinstance(x, dict) for x in v) else None,
    "executor": _text,
    "node": _text,
    "input_scaling": _text,
    "imported_from": _text,
    "notes": lambda v: v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None,
    "name": _text,
    "owner": _text,
    "timings": lambda v: (
        {k: float(x) for k, x in v.items()}
        if isinstance(v, dict) and all(_number(x) is not None for x in v.values())
        else None
    ),
}


@dataclass
class RunMetadata:
    """A saved run's JSON, typed. Unknown keys (from newer versions or other tools) are kept in `extra` and
    written back; a known key whose value has the wrong type is kept there too rather than lost."""

    version: int = METADATA_VERSION
    id: str | None = None
    created: str | None = None
    status: str = "finished"  # finished | stopped | imported
    preset: str | None = None
    architecture: str | None = None  # a preset network's name ("notebook_cnn", "deep_cnn"; "seed_cnn" in older runs)
    arch: dict[str, Any] | None = None  # the architecture spec (architecture.to_dict), when there is one
    settings: TrainConfig | None = None  # what the training was asked for; None for an imported model
    history: list[EpochRow] = field(default_factory=list)  # one row per epoch
    batch_trace: list[dict[str, Any]] = field(default_factory=list)
    test_loss: float | None = None
    test_accuracy: float | None = None
    # Test accuracy with each image's probabilities averaged with its mirror image's (test-time augmentation):
    # some presets report it beside the plain accuracy, which stays the run's accuracy everywhere.
    mirror_accuracy: float | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    samples_per_second: float | None = None
    seconds_to_target: float | None = None
    target_accuracy: float | None = None
    train_images: int | None = None
    precision: str | None = None
    precision_note: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    data_fingerprint: str | None = None
    command: str | None = None
    params: int | None = None
    summary: list[LayerRow] = field(default_factory=list)  # the model's layers
    executor: str | None = None
    node: str | None = None
    input_scaling: str | None = None  # what inputs the model expects, when that is an assumption (imports)
    imported_from: str | None = None  # the file name an imported model came from
    notes: list[str] = field(default_factory=list)  # sentences about the run, e.g. how an import was adapted
    name: str | None = None  # a name the user gave the run; the id stays its key
    owner: str | None = None  # who trained or imported it (people.Actor.id); None: saved before runs had owners
    # Seconds of each part of a training (start, tensorflow, data, build, first batch, steady training and its
    # images, final evaluation, total from launch to result): what fmnist_core.training.estimate learns from.
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    settings_extra: dict[str, Any] = field(default_factory=dict)  # keys in "settings" this version does not know

    def __post_init__(self) -> None:
        # Rows given as JSON objects (a dict from the worker, a test) are read into their types here.
        if isinstance(self.settings, dict):
            self.settings, found = _read_settings(self.settings)
            self.settings_extra = {**found, **self.settings_extra}
        self.history = [
            EpochRow.from_dict(row, i) if isinstance(row, dict) else row for i, row in enumerate(self.history)
        ]
        self.summary = [layer_row(row) if isinstance(row, dict) else row for row in self.summary]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunMetadata:
        """Read any version's JSON object; files without "version" are version 1."""
        known, extra = split_known(raw, _READERS)
        known.setdefault("version", 1)
        # Runs saved before the notebook preset was renamed say "seed" and "seed_cnn": read them by today's names.
        if "preset" in known:
            known["preset"] = preset_name(known["preset"])
        if "architecture" in known:
            known["architecture"] = architecture.preset_architecture(known["architecture"])
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to write: every field, then the kept unknown keys (nested ones where they were)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "settings_extra")}
        out["settings"] = {**(asdict(self.settings) if self.settings else {}), **self.settings_extra}
        out["history"] = [row.to_dict() for row in self.history]
        out["summary"] = [layer_dict(row) for row in self.summary]
        return {**out, **self.extra}

    def unknown_fields(self) -> list[str]:
        """Keys of the run's JSON this version does not know (written by a newer version or another tool), as
        dotted names: the Model page lists them, and a freshly saved run has none."""
        names = list(self.extra)
        names += [f"settings.{key}" for key in self.settings_extra]
        names += sorted({f"history.{key}" for row in self.history for key in row.extra})
        names += sorted({f"summary.{key}" for row in self.summary for key in row.extra})
        return names

    def spec(self) -> architecture.ArchSpec | None:
        """The run's network as a spec: its own, or its preset architecture's; None for an imported model."""
        if self.arch is not None:
            try:
                return architecture.parse_spec(self.arch)
            except architecture.SpecError:
                return None
        return architecture.PRESET_SPECS.get(self.architecture or "")


@dataclass
class RunInfo:
    """What the list of runs shows for one run, read from its JSON (the model file is opened lazily)."""

    id: str
    status: str  # finished | stopped | imported | damaged
    test_accuracy: float | None = None
    test_loss: float | None = None
    created: str | None = None
    preset: str | None = None
    shipped: bool = False
    error: str | None = None
    metadata: RunMetadata = field(default_factory=RunMetadata)
    has_frames: bool = False  # a "watch it learn" sidecar exists (it is checked only when loaded)

    @property
    def usable(self) -> bool:
        return self.status != "damaged"

    def label(self, with_owner: bool = False) -> str:
        """What people see for a run: its name (or what it is and when), its accuracy, and a mark if it is
        stopped or damaged; short enough for the sidebar. The id stays the key (links, files, the CLI).
        `with_owner` (sign-in on) puts the owner's short name first, so a class's identical runs tell apart."""
        if with_owner and not self.shipped:
            return f"{people.short_name(self.metadata.owner)} · {self.label()}"
        if not self.usable:
            return f"{self.id} (damaged)"
        meta = self.metadata
        if meta.name:
            what = meta.name
        elif self.shipped:
            what = f"{self.id} (shipped)"
        elif self.status == "imported":
            what = f"imported {Path(meta.imported_from or self.id).stem[:18]}"
        else:
            what = f"{self.preset or 'run'} · {_short_time(self.created)}"
        acc = f"{self.test_accuracy:.2%}" if self.test_accuracy is not None else "n/a"
        tag = " · stopped" if self.status == "stopped" else ""
        return f"{what} · {acc}{tag}"


def distinct_labels(runs: list[RunInfo], with_owner: bool = False) -> dict[str, str]:
    """Each run's label, by id; runs whose labels are equal (one person's runs of one preset in the same minute,
    with the same accuracy) get the end of their id after it, so a list never shows two lines alike."""
    labels = {run.id: run.label(with_owner=with_owner) for run in runs}
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    return {
        run_id: f"{label} · #{run_id.rsplit('-', 1)[-1]}" if seen[label] > 1 else label
        for run_id, label in labels.items()
    }


def _short_time(stamp: str | None) -> str:
    """'Nov 29 15:05' from an ISO time; the id's own time when the run has none."""
    try:
        return f"{datetime.fromisoformat(stamp or ''):%b %d %H:%M}"
    except ValueError:
        return "undated"


MAX_NAME = 40


def check_run_name(name: str) -> str:
    """A run name as typed, trimmed; StoreError saying why when it can't be one (empty, too long, control chars)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise StoreError("a name needs at least one letter or digit")
    if len(cleaned) > MAX_NAME:
        raise StoreError(f"a name has at most {MAX_NAME} characters (this one has {len(cleaned)})")
    if any(not ch.isprintable() for ch in cleaned):
        raise StoreError("a name cannot hold control characters")
    return cleaned
