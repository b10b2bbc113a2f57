"""The Model page's curves: this run's training curves, and several runs compared (which runs can be compared, the
table's rows, and when a chart misleads)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.nets import architecture
from fmnist_core.nets.presets import PRESETS
from fmnist_core.runs.metadata import RunInfo
from fmnist_core.runs.records import why_train_below_test
from ui.figures.curves import compare_curves, epoch_curves_pair
from ui.readable import run_labels
from ui.session import kept, kept_value


def training_curves_section(info: RunInfo) -> None:
    """Loss and accuracy per epoch, train and test, side by side in one figure (nothing for a run without epochs),
    and why the last epoch's train accuracy is below its test accuracy when it is."""
    history = info.metadata.history
    if history:
        st.markdown("**Training curves of this run**")
        st.plotly_chart(epoch_curves_pair(history), width="stretch")
        if why := why_train_below_test(history[-1]):
            st.caption(why)


def compare_runs_section(all_runs: list[RunInfo]) -> None:
    """Choose two or more runs: their test curves overlaid and their settings side by side; the choice is kept
    across visits and deletes (only ids that no longer exist are dropped)."""
    st.subheader("Compare runs")
    comparable = comparable_runs(all_runs)
    labels_by_id = run_labels(comparable)
    previous = kept_value("cmp_runs", None)
    if previous is not None:
        st.session_state["cmp_runs"] = [run_id for run_id in previous if run_id in labels_by_id]
    chosen_ids = kept(
        st.multiselect,
        "Compare runs",
        "cmp_runs",
        [r.id for r in comparable[:2]] if len(comparable) >= 2 else [],
        options=list(labels_by_id),
        format_func=lambda run_id: labels_by_id.get(run_id, run_id),
        help="Two or more runs: their test curves overlaid and their settings side by side",
    )
    if len(chosen_ids) >= 2:
        picked = [r for r in comparable if r.id in chosen_ids]
        a, b = st.columns(2)
        histories = {labels_by_id[r.id]: r.metadata.history for r in picked}
        a.plotly_chart(compare_curves(histories, "accuracy", "Test accuracy per epoch"), width="stretch", key="cmp_acc")
        b.plotly_chart(compare_curves(histories, "loss", "Test loss per epoch"), width="stretch", key="cmp_loss")
        if warning := loss_warning(picked):
            st.caption(warning)
        st.dataframe(
            comparison_rows(picked, labels_by_id),
            hide_index=True,
            column_config={"network": st.column_config.TextColumn(width="medium")},
        )
    elif comparable:
        st.caption("Choose two or more runs to compare.")


def comparable_runs(all_runs: list[RunInfo]) -> list[RunInfo]:
    """Runs with epochs to draw: saved ones (newest first) before the shipped ones, so the default comparison is
    the user's latest two."""
    return sorted((r for r in all_runs if r.usable and r.metadata.history), key=lambda r: r.shipped)


def loss_warning(picked: list[RunInfo]) -> str | None:
    """A sentence when the test-loss chart compares presets whose losses differ by design (label smoothing)."""
    smoothed = sorted({r.preset for r in picked if r.preset in PRESETS and PRESETS[r.preset].label_smoothing})
    if smoothed and len({r.preset for r in picked}) > 1:
        return (
            f"Test loss is not comparable across these presets: {', '.join(smoothed)} trains with label smoothing "
            "(it aims to be a little less than 100% sure of the right class), so its loss cannot go as low. Compare "
            "accuracy instead."
        )
    return None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def comparison_rows(picked: list[RunInfo], labels: dict[str, str]) -> list[dict[str, Any]]:
    """One row per run: its result, its cost and the settings it was trained with (blank for an import)."""
    rows = []
    for r in picked:
        meta, settings = r.metadata, r.metadata.settings
        spec = meta.spec()
        rows.append(
            {
                "run": labels[r.id],
                "test accuracy": None if r.test_accuracy is None else f"{r.test_accuracy:.2%}",
                "images/s": None if meta.samples_per_second is None else int(round(meta.samples_per_second)),
                "seconds": _rounded(meta.seconds, 1),
                "epochs": len(meta.history),
                "training images": meta.train_images,
                "batch size": settings.batch_size if settings else None,
                "learning rate": settings.learning_rate if settings else None,
                "seed": settings.seed if settings else None,
                "status": r.status,
                "preset": r.preset,
                "network": architecture.summary_line(spec) if spec else "imported",
                "id": r.id,
            }
        )
    return rows
