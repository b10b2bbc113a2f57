"""Sign-in in AppTest: the login screen and nothing else when signed out or expired, who is signed in,
ownership and delete controls on the Model page, visibility of ?model=, the Class page for teachers only."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import settings
from fmnist_core.runs import paths
from fmnist_core.training import jobs
from page_helpers import exceptions, texts, title

ADA, BOB, TEA = "ada@school.org", "bob@school.org", "tea@school.org"
AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-secret",
        "client_id": "fmnist",
        "client_secret": "fmnist",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
}


@pytest.fixture
def school(fmnist_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(settings.TEACHERS, TEA)
    monkeypatch.delenv(settings.RUN_VISIBILITY, raising=False)
    for run_id, owner, accuracy in (("ada-1", ADA, 0.81), ("bob-1", BOB, 0.88)):
        shutil.copy2(paths.ASSETS_DIR / "default.keras", fmnist_home / f"{run_id}.keras")
        meta = json.loads((paths.ASSETS_DIR / "default.json").read_text())
        meta.update(id=run_id, owner=owner, test_accuracy=accuracy, created="2026-11-29T10:00:00+00:00")
        (fmnist_home / f"{run_id}.json").write_text(json.dumps(meta))
    return fmnist_home


def signed(make_app: Callable[[], AppTest], user: dict, page: str | None = None, **params: str) -> AppTest:
    """An AppTest with [auth] secrets and this st.user, run once (app.py), then on `page` when given."""
    at = make_app()
    at.secrets = json.loads(json.dumps(AUTH))
    at.user = user
    at.run()
    assert not at.exception, exceptions(at)
    if page is not None:
        at.switch_page(page)
        at.query_params.update(params)
        at.run()
        assert not at.exception, exceptions(at)
    return at


def person(email: str) -> dict:
    return {"is_logged_in": True, "email": email, "sub": email, "exp": time.time() + 3600}


def sidebar_text(at: AppTest) -> str:
    return " ".join(texts(at.sidebar.text) + texts(at.sidebar.caption) + texts(at.sidebar.markdown))


@pytest.mark.parametrize("user", [{"is_logged_in": False}, {**person(ADA), "exp": time.time() - 5}])
def test_signed_out_or_expired_sees_only_the_login(make_app, school: Path, user: dict) -> None:
    at = signed(make_app, user, "pages/model.py", model="ada-1")
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.sidebar.selectbox and not at.metric and not at.get("plotly_chart") and not at.table
    assert not any("ada-1" in t for t in texts(at.markdown) + texts(at.caption))
    expired = any("expired" in w for w in texts(at.warning))
    assert expired == ("exp" in user)


def test_no_auth_section_means_local_and_no_login(make_app, school: Path) -> None:
    at = make_app()
    at.user = {"is_logged_in": False}  # ignored: without [auth] nobody signs in
    at.run()
    assert not at.exception, exceptions(at)
    assert "Log in" not in [b.label for b in at.button] and "Log out" not in [b.label for b in at.sidebar.button]
    assert [b for b in at.sidebar.selectbox if b.label == "Model"]


def test_student_sees_ownership_and_deletes_only_their_own(make_app, school: Path) -> None:
    at = signed(make_app, person(ADA), "pages/model.py", model="bob-1")
    assert f"Signed in as `{ADA}`" in sidebar_text(at)
    assert "Log out" in [b.label for b in at.sidebar.button]
    assert any(c.endswith(f"by {BOB}") for c in texts(at.caption)), texts(at.caption)  # Bob's run, read-only
    target = [s for s in at.selectbox if s.label == "Run to delete"][0]
    assert target.options == ["ada-1"] or [o for o in target.options if "bob" in o] == []
    assert "Delete all my runs…" in [b.label for b in at.button]
    [b for b in at.button if b.label == "Delete all my runs…"][0].click().run()
    assert any("Delete these 1 run of yours?" in w for w in texts(at.warning)), texts(at.warning)
    assert any("ada-1" in t or "81.00%" in t for t in texts(at.text)), texts(at.text)  # the run it will delete
    [b for b in at.button if b.label == "Yes, delete all my runs"][0].click().run()
    assert not at.exception, exceptions(at)
    assert not (school / "ada-1.json").exists() and (school / "bob-1.json").exists()
    assert any("Deleted your 1 run." in s for s in texts(at.success))


def test_private_runs_cannot_be_opened_by_address(make_app, school: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.RUN_VISIBILITY, "private")
    at = signed(make_app, person(ADA), "pages/model.py", model="bob-1")
    assert any("bob-1" in w and "does not exist" in w for w in texts(at.warning)), texts(at.warning)
    assert at.session_state["model_id"] == "default"
    assert "bob-1" not in [o for b in at.sidebar.selectbox for o in b.options]


def test_class_page_is_for_teachers(make_app, school: Path) -> None:
    at = signed(make_app, person(ADA), "pages/class.py")
    assert title(at) == "Class" and not at.table
    assert any("The Class page is for teachers" in i for i in texts(at.info))
    at = signed(make_app, person(TEA), "pages/class.py")
    table = at.table[0].value
    assert list(table["person"]) == [BOB, ADA] and list(table["runs"]) == [1, 1]
    assert list(table["best test accuracy"]) == ["88.00%", "81.00%"]
    assert "(/model?model=bob-1)" in table["best run"].iloc[0]


def test_another_identity_in_the_same_session_starts_from_empty_state(make_app, school: Path) -> None:
    at = signed(make_app, person(ADA), "pages/model.py", model="ada-1")
    assert at.session_state["model_id"] == "ada-1"
    at.user = person(BOB)
    at.query_params.clear()
    at.run()
    assert not at.exception, exceptions(at)
    assert at.session_state["model_id"] == "default"  # Ada's choice did not follow Bob
    assert f"Signed in as `{BOB}`" in sidebar_text(at)


def test_a_signed_in_students_quiz_score_is_kept_and_the_class_page_shows_it(make_app, school: Path) -> None:
    """The score is the person's, across sessions, and in the teacher's view."""
    at = signed(make_app, person(ADA), "pages/quiz.py")
    assert title(at) == "Predict the model"
    at.selectbox(key="quiz_guess").set_value(0).run()
    [b for b in at.button if b.label == "Reveal the model's answer"][0].click().run()
    assert not at.exception, exceptions(at)
    ada_rounds = [m.value for m in at.metric if m.label == "Rounds"]
    assert ada_rounds == ["1"]

    again = signed(make_app, person(ADA), "pages/quiz.py")  # another browser session of hers
    assert [m.value for m in again.metric if m.label == "Rounds"] == ["1"]
    other = signed(make_app, person(BOB), "pages/quiz.py")  # his own score: none yet
    assert [m.value for m in other.metric if m.label == "Rounds"] == ["0"]

    teacher = signed(make_app, person(TEA), "pages/class.py")
    table = teacher.table[0].value
    quiz_of = dict(zip(table["person"], table["quiz"], strict=True))
    assert quiz_of[BOB] == "—" and quiz_of[ADA] in ("0% of 1", "100% of 1")
    # The scores file is no run: not a "nobody" row, not in anyone's Model box, not deleted with a person's runs.
    assert list(table["person"]) == [BOB, ADA]
    assert not [o for b in teacher.sidebar.selectbox for o in b.options if "quiz" in o]
    teacher.selectbox(key="class_person").set_value(ADA).run()
    [b for b in teacher.button if b.label == "Delete all runs of this person…"][0].click().run()
    assert any("Delete these 1 run of" in w for w in texts(teacher.warning)), texts(teacher.warning)
    [b for b in teacher.button if b.label == "Yes, delete them all"][0].click().run()
    assert not teacher.exception, exceptions(teacher)
    assert any(f"Deleted 1 run of {ADA}." in m for m in texts(teacher.success)), texts(teacher.success)
    table = teacher.table[0].value
    assert dict(zip(table["person"], table["quiz"], strict=True))[ADA] == quiz_of[ADA]  # her score is kept
    assert not (school / "ada-1.json").exists() and (school / "bob-1.json").exists()


def test_runs_say_whose_they_are_and_your_own_come_first(make_app, school: Path) -> None:
    at = signed(make_app, person(BOB), "pages/model.py")
    box = [b for b in at.sidebar.selectbox if b.label == "Model"][0]
    assert box.options[0].startswith("bob · "), box.options  # his own run first
    assert box.options[1].startswith("default (shipped)")  # then the shipped models, with no owner
    assert any(option.startswith("ada · ") for option in box.options[2:]), box.options
    teacher = signed(make_app, person(TEA), "pages/model.py")
    options = [b for b in teacher.sidebar.selectbox if b.label == "Model"][0].options
    assert options[0].startswith("default (shipped)")  # nothing of hers: the shipped models lead


def test_a_refused_train_click_says_the_limit_once(make_app, school: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Her other tab started a training after this one drew its Train button: the click is refused, and the
    page says why in one sentence, not a warning and an error saying the same."""
    at = signed(make_app, person(ADA), "pages/train.py")
    train = [b for b in at.button if b.label == "Train"][0]
    assert not train.disabled
    monkeypatch.setitem(jobs._ACTIVE, object(), ADA)  # the other tab's training, queued
    train.click().run()
    assert not at.exception, exceptions(at)
    said = [t for t in texts(at.warning) + texts(at.error) if t.startswith("You may have 1 training")]
    assert len(said) == 1, texts(at.warning) + texts(at.error)
    assert "training_job" not in at.session_state  # nothing started


def test_a_class_starts_on_the_quick_preset_and_one_person_on_fast(make_app, school: Path) -> None:
    """With sign-in the Train page offers the class preset first (30 trainings fit a lesson); alone, fast."""
    from fmnist_core.nets.presets import CLASS_PRESET, DEFAULT_PRESET

    at = signed(make_app, person(ADA), "pages/train.py")
    assert not at.exception, exceptions(at)
    assert at.selectbox(key="tr_preset").value == CLASS_PRESET == "quick"
    alone = make_app()
    alone.run()
    alone.switch_page("pages/train.py").run()
    assert alone.selectbox(key="tr_preset").value == DEFAULT_PRESET == "fast"
