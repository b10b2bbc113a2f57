"""Bringing a model made elsewhere: checked (fmnist_core.runs.archive), loaded in safe mode, adapted, evaluated, stored."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist_core import people
from fmnist_core.errors import StoreError
from fmnist_core.runs import metadata, paths, store
from fmnist_core.runs.archive import check_archive
from fmnist_core.runs.metadata import RunInfo

# --- importing a model made elsewhere ------------------------------------------------------------------------
MAX_IMPORT_BYTES = 50 * 1024 * 1024
INPUT_SCALING = "pixels / 255 (0..1), assumed: an imported file does not say how it was trained"


@dataclass(frozen=True)
class ImportResult:
    """What importing gave: the run's id and info (with its accuracy) and what was adapted, in sentences."""

    run_id: str
    info: RunInfo
    notes: tuple[str, ...]


def import_model(
    source: Path | str | bytes,
    name: str | None = None,
    home: Path | None = None,
    data_dir: str | os.PathLike | None = None,
    file_name: str | None = None,
    *,
    actor: people.Actor,
) -> ImportResult:
    """Check, load (safe mode), evaluate on the 10,000 test images and store a .keras model; returns the stored
    run (`.run_id`, `.info`) and the adaptations made, for the UI and the CLI.

    Every check that can be made on the bytes comes before Keras deserialises anything (check_archive); no
    code from the file ever runs. A model must take 28x28 or 28x28x1 images and give 10 outputs; 28x28 models
    get a reshape in front, models ending in logits get a softmax, so every page sees (28, 28, 1) -> 10
    probabilities. StoreError (or data.DataError without the test set) says why in one sentence. The actor
    becomes the run's owner; a signed-in person past FMNIST_RUNS_PER_USER is refused before anything is read.
    """
    base = home or paths.home_dir()
    if actor.signed_in:
        owned = people.owned_by((r.metadata.owner for r in store.list_runs(base, include_shipped=False)), actor)
        try:
            people.check_new_run(actor, owned)
        except people.LimitReached as exc:
            raise StoreError(str(exc)) from None
    raw, shown = _read_import(source, file_name)
    run_id = paths.validate_run_id(name) if name else paths.new_run_id("imported")
    if (paths.ASSETS_DIR / f"{run_id}.json").exists() or (base / f"{run_id}.json").exists():
        raise StoreError(f"a run with id {run_id} exists already; choose another name")
    check_archive(raw, what=shown)
    model, notes = _load_imported(raw, shown)

    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.inference import evaluate
    from fmnist_core.nets.keras_models import summary_rows, total_params

    test = fashion_mnist.load_test_set(data_dir)
    try:
        result = evaluate(model, test.images, test.labels)
    except Exception as exc:  # a model that loads but cannot run on 28x28 images
        raise StoreError(f"{shown} could not be evaluated: {str(exc).splitlines()[0][:200]}") from None
    meta = metadata.RunMetadata(
        status="imported",
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        params=total_params(model),
        summary=summary_rows(model),
        input_scaling=INPUT_SCALING,
        imported_from=shown,
        data_fingerprint=_fingerprint(data_dir),
        notes=list(notes),
        owner=actor.id,
    )
    store.save_run(model, meta, run_id=run_id, home=base)
    return ImportResult(run_id=run_id, info=store.get_run(run_id, base), notes=notes)


def _read_import(source: Path | str | bytes, file_name: str | None) -> tuple[bytes, str]:
    """The file's bytes, refused by name or size before anything reads them whole."""
    if isinstance(source, bytes | bytearray):
        shown = file_name or "the uploaded file"
        if file_name and not file_name.lower().endswith(".keras"):
            raise StoreError(f"{shown} is not a .keras file; save the model with model.save('name.keras')")
        if len(source) > MAX_IMPORT_BYTES:
            raise StoreError(f"{shown} is {len(source) / 2**20:.1f} MB; models of up to 50 MB can be imported")
        return bytes(source), shown
    path = Path(source)
    shown = file_name or path.name
    if path.suffix.lower() != ".keras":
        raise StoreError(f"{shown} is not a .keras file; save the model with model.save('name.keras')")
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise StoreError(f"{shown} is {size / 2**20:.1f} MB; models of up to 50 MB can be imported")
        return path.read_bytes(), shown
    except OSError as exc:
        raise StoreError(f"cannot read {shown}: {exc.strerror or exc}") from None


def _load_imported(raw: bytes, shown: str) -> tuple[Any, tuple[str, ...]]:
    """Load checked bytes with safe_mode and adapt the model to what the pages expect."""
    from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

    quiet_import_tensorflow()
    import keras

    from fmnist_core.nets.keras_models import as_float32

    with tempfile.TemporaryDirectory(prefix="fmnist-import-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(raw)
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for bad files; all mean "this file is unusable"
            raise StoreError(f"{shown} could not be loaded: {str(exc).splitlines()[0][:200]}") from None
    in_shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    out_shape = tuple(model.outputs[0].shape[1:]) if model.outputs else None
    if in_shape not in ((28, 28), (28, 28, 1)):
        raise StoreError(f"{shown} takes input of shape {in_shape}; it must take 28x28 grayscale images")
    if out_shape != (10,):
        raise StoreError(f"{shown} gives outputs of shape {out_shape}; it must give 10 (one per class)")
    _check_spatial_order(model, shown)
    model = as_float32(model)
    notes: list[str] = []
    layers = list(model.layers)
    inserted: set[str] = set()
    if in_shape == (28, 28) and type(layers[0]).__name__ != "Flatten":
        layers.insert(0, keras.layers.Reshape((28, 28), name=_free_name(layers, "to_28x28")))
        inserted.add(layers[0].name)
        notes.append("The model takes 28x28 images; a reshape from 28x28x1 was put in front.")
    elif in_shape == (28, 28):
        notes.append("The model takes 28x28 images; its Flatten layer takes 28x28x1 the same way.")
    if not _ends_in_softmax(layers[-1]):
        layers.append(keras.layers.Softmax(name=_free_name(layers, "softmax")))
        inserted.add(layers[-1].name)
        notes.append(
            "The model's last layer gave scores, not probabilities; a softmax layer (which turns scores into "
            "probabilities that add up to 1) was added."
        )
    if inserted or in_shape != (28, 28, 1):
        # The same (trained) layer objects behind a (28, 28, 1) input: weights are shared, not copied.
        model = keras.Sequential([keras.Input((28, 28, 1), name="input"), *layers], name=model.name)
    model, renamed = _with_default_names(model)
    renamed = [(old, new) for old, new in renamed if old not in inserted]  # the note is about the file's layers
    if renamed:
        shown = ", ".join(f"{old} → {new}" for old, new in renamed[:4]) + (", ..." if len(renamed) > 4 else "")
        notes.append(f"Layers were given Keras' default names, as this app's own models have ({shown}).")
    return model, tuple(notes)


SPATIAL_CLASSES = {"Conv2D", "MaxPooling2D", "AveragePooling2D"}


def _check_spatial_order(model: Any, shown: str) -> None:
    """Refuse conv or pool layers after the maps were flattened: pages explain them by their image position."""
    flat_at = None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in SPATIAL_CLASSES and flat_at is not None:
            raise StoreError(
                f"{shown} has a {kind} layer ({layer.name}) after its {flat_at} layer; this app shows conv and "
                "pool layers only where they work on the image, before it is flattened"
            )
        if flat_at is None and len(layer.output.shape) == 2:
            flat_at = layer.name


def _snake_case(class_name: str) -> str:
    """Keras' default layer name for a class: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _with_default_names(model: Any) -> tuple[Any, list[tuple[str, str]]]:
    """The model with layers named as Keras names them in a fresh process (conv2d, conv2d_1, ...), so pages
    and links that look layers up by name (the first conv is "conv2d") work; returns (model, renames)."""
    config = model.get_config()
    counts: dict[str, int] = {}
    renamed: list[tuple[str, str]] = []
    for layer in config["layers"]:
        if layer.get("class_name") == "InputLayer":
            layer["config"]["name"] = "input"
            continue
        base = _snake_case(layer["class_name"])
        n = counts.get(base, 0)
        counts[base] = n + 1
        new = base if n == 0 else f"{base}_{n}"
        if layer["config"]["name"] != new:
            renamed.append((layer["config"]["name"], new))
            layer["config"]["name"] = new
    if not renamed:
        return model, []
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone, renamed


def _ends_in_softmax(layer: Any) -> bool:
    kind = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    return kind == "Softmax" or activation == "softmax"


def _free_name(layers: list[Any], wanted: str) -> str:
    taken = {layer.name for layer in layers}
    name, n = wanted, 0
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name


def _fingerprint(data_dir: str | os.PathLike | None) -> str | None:
    from fmnist_core.data import fashion_mnist

    try:
        return fashion_mnist.fingerprint(data_dir)
    except fashion_mnist.DataError:
        return None
