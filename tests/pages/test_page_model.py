"""Model page: summary, metrics, delete, downloads, compare runs, confusion matrix."""

from __future__ import annotations

from pathlib import Path

from page_helpers import exceptions, open_page, rerun, texts

from fmnist_core import store


def test_model_page_summary_and_delete(make_app, tiny_run: str, fmnist_home: Path) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, exceptions(at)
    assert "default" in texts(at.subheader)
    assert at.dataframe, "no summary table"
    assert any("243,786" in m for m in texts(at.markdown)), "no 'Total parameters: 243,786'"
    assert {"Test accuracy", "Test loss"} <= {m.label for m in at.metric}
    delete_keys = {b.key for b in at.button if b.label == "Delete"}
    assert delete_keys == {f"del_{tiny_run}"}  # the shipped model has no Delete button

    at.button(key=f"del_{tiny_run}").click()
    rerun(at, "default")
    assert not at.exception, exceptions(at)
    assert any(f"Deleted run {tiny_run}" in s for s in texts(at.success)), texts(at.success)
    assert not (fmnist_home / f"{tiny_run}.json").exists()
    assert not (fmnist_home / f"{tiny_run}.keras").exists()
    assert not [b for b in at.button if b.label == "Delete"]


def test_model_page_delete_active_run_falls_back_to_default(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "model", model_id=tiny_run)
    assert tiny_run in texts(at.subheader)
    assert any("243,786" in m for m in texts(at.markdown))
    at.button(key=f"del_{tiny_run}").click().run()
    assert not at.exception, exceptions(at)
    assert at.session_state["model_id"] == "default"
    assert "default" in texts(at.subheader)
    assert tiny_run not in [r.id for r in store.list_runs()]
