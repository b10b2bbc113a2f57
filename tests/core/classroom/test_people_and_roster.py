"""A class on one server: identities, owners, who may see and delete what, fair shares, the round-robin
queue, the teacher's rows and the command line's --owner. No training runs here: runs are written as files and
the queue is driven with stand-in jobs."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from fmnist_core import people, settings
from fmnist_core.analysis import quiz
from fmnist_core.classroom import roster
from fmnist_core.cli import commands
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import importer, metadata, paths, store
from fmnist_core.training import jobs
from fmnist_core.training.fair_queue import FairSlots, service_order
from fmnist_core.training.jobs import TrainingJob
from helpers import HAS_REAL_DATA, REAL_DATA_DIR

ADA, BOB, TEA = "ada@school.org", "bob@school.org", "tea@school.org"


@pytest.fixture
def school(store_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sign-in rules of a class: one teacher, default limits and visibility; an empty store."""
    monkeypatch.setenv(settings.TEACHERS, TEA)
    for name in (settings.RUN_VISIBILITY, settings.TRAININGS_PER_USER, settings.RUNS_PER_USER):
        monkeypatch.delenv(name, raising=False)
    store_home.mkdir(parents=True, exist_ok=True)
    return store_home


def add_run(
    home: Path, run_id: str, owner: str | None, accuracy: float = 0.8, created: str = "2026-11-29T10:00:00+00:00"
):
    """A saved run as the store lists it: the shipped model's file under a new id, with this owner."""
    shutil.copy2(paths.ASSETS_DIR / "default.keras", home / f"{run_id}.keras")
    meta = json.loads((paths.ASSETS_DIR / "default.json").read_text())
    meta.update(id=run_id, test_accuracy=accuracy, created=created, name=None)
    if owner is None:
        meta.pop("owner", None)
    else:
        meta["owner"] = owner
    (home / f"{run_id}.json").write_text(json.dumps(meta))
    return run_id


# --- identities ----------------------------------------------------------------------------------------
def test_identity_is_email_else_sub_and_expired_is_signed_out() -> None:
    now = 1_000_000.0
    assert people.identity_from_claims({"is_logged_in": True, "email": ADA, "sub": "123"}, now) == ADA
    assert people.identity_from_claims({"is_logged_in": True, "sub": "123"}, now) == "123"
    assert people.identity_from_claims({"is_logged_in": True, "email": " ", "sub": "x"}, now) == "x"
    assert people.identity_from_claims({"is_logged_in": True, "email": ADA, "exp": now - 1}, now) is None
    assert people.identity_from_claims({"is_logged_in": True, "email": ADA, "exp": now + 60}, now) == ADA
    assert people.identity_from_claims({"is_logged_in": False, "email": ADA}, now) is None
    assert people.identity_from_claims({"email": ADA}, now) is None  # AppTest's default user: no sign-in flag
    with pytest.raises(ValueError):
        people.person("  ")


def test_teachers_come_from_the_setting(school: Path) -> None:
    assert people.person(TEA).teacher and not people.person(ADA).teacher
    assert not people.LOCAL.teacher and people.LOCAL.unrestricted and not people.LOCAL.signed_in
    assert people.administrator(ADA).id == ADA and people.administrator().id == "local"


# --- owners and permissions ------------------------------------------------------------------------------
def test_owner_is_kept_in_metadata_and_old_runs_have_none(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "old-1", None)
    assert store.get_run("ada-1").metadata.owner == ADA
    assert store.get_run("old-1").metadata.owner is None
    meta = metadata.RunMetadata.from_dict({"owner": ADA, "id": "x"})
    assert meta.to_dict()["owner"] == ADA and metadata.METADATA_VERSION == 4
    assert metadata.RunMetadata.from_dict({"owner": 7}).extra == {"owner": 7}  # a wrong type is kept, not trusted


def test_only_the_owner_or_a_teacher_may_delete(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "ada-2", ADA)
    add_run(school, "old-1", None)
    with pytest.raises(store.StoreError, match=r"^Run ada-1 belongs to ada@school\.org; only its owner or a teacher"):
        store.delete_run("ada-1", actor=people.person(BOB))
    with pytest.raises(store.StoreError, match="belongs to nobody"):
        store.delete_run("old-1", actor=people.person(ADA))
    assert {"ada-1", "old-1"} <= {r.id for r in store.list_runs()}
    with pytest.raises(store.StoreError, match=r"only its owner or a teacher may rename it\.$"):
        store.rename_run("ada-1", "Bob's now", actor=people.person(BOB))
    assert store.rename_run("ada-1", "Mine", actor=people.person(ADA)).metadata.name == "Mine"
    store.delete_run("ada-1", actor=people.person(ADA))
    store.delete_run("ada-2", actor=people.person(TEA))
    store.delete_run("old-1", actor=people.person(TEA))
    with pytest.raises(store.StoreError, match="shipped model"):
        store.delete_run("default", actor=people.person(TEA))
    assert store.list_runs(include_shipped=False) == []


def test_without_sign_in_and_on_the_command_line_everything_may_be_deleted(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "old-1", None)
    store.delete_run("ada-1", actor=people.LOCAL)
    store.delete_run("old-1", actor=people.ADMIN)
    assert store.list_runs(include_shipped=False) == []


def test_visibility_class_and_private(school: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "bob-1", BOB)
    add_run(school, "old-1", None)
    ids = lambda actor: [r.id for r in store.list_runs(actor=actor)]  # noqa: E731
    assert set(ids(people.person(BOB))) == {"default", "improved", "ada-1", "bob-1", "old-1"}  # class: all
    monkeypatch.setenv(settings.RUN_VISIBILITY, "private")
    assert set(ids(people.person(BOB))) == {"default", "improved", "bob-1"}
    assert set(ids(people.person(TEA))) == {"default", "improved", "ada-1", "bob-1", "old-1"}
    assert set(ids(people.LOCAL)) == set(ids(None))
    with pytest.raises(store.StoreError, match="no saved run with id 'ada-1'"):  # as if it did not exist
        store.get_run("ada-1", actor=people.person(BOB))
    with pytest.raises(store.StoreError, match="no saved run with id 'ada-1'"):
        store.delete_run("ada-1", actor=people.person(BOB))
    assert store.get_run("default", actor=people.person(BOB)).shipped


# --- fair shares -------------------------------------------------------------------------------------------
def test_limit_sentences_are_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    sentences = []
    for error, check in (
        (people.LimitReached, lambda: people.check_new_training(people.person(ADA), trainings=1, runs=0)),
        (people.LimitReached, lambda: people.check_new_run(people.person(ADA), runs=20)),
        (people.NotAllowed, lambda: people.check_class_view(people.person(ADA))),
    ):
        with pytest.raises(error) as refused:
            check()
        sentences.append(str(refused.value))
    assert sentences == [
        "You may have 1 training running or waiting at a time; wait for it to finish or stop it to start another.",
        "You have 20 runs and each person may keep 20; delete one of yours on the Model page to import another.",
        "The Class page is for teachers; if you teach this class, ask the person who runs this app to add you.",
    ]
    assert not [s for s in sentences if "FMNIST_" in s]  # setting names are for the teacher's docs, not students
    monkeypatch.setenv(settings.TRAININGS_PER_USER, "3")
    with pytest.raises(people.LimitReached, match=r"^You may have 3 trainings running or waiting at a time; wait for"):
        people.check_new_training(people.person(ADA), trainings=3, runs=0)
    with pytest.raises(people.LimitReached, match=r"^You have 22 runs and each person may keep 20; delete 3 of yours"):
        people.check_new_run(people.person(ADA), runs=22)
    people.check_new_training(people.LOCAL, trainings=9, runs=99)  # no sign-in: no limits
    people.check_new_run(people.ADMIN, runs=99)


def test_training_limit_spans_tabs_and_runs_limit_counts_stored_runs(
    school: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = people.person(ADA)
    other_tab = object()
    monkeypatch.setitem(jobs._ACTIVE, other_tab, ADA)  # a training of Ada's from another tab or browser
    assert "1 training running or waiting" in jobs.training_blocker(ada)
    with pytest.raises(people.LimitReached):
        TrainingJob(TrainConfig(preset="notebook", epochs=1, limit=64), actor=ada).start()  # refused: nothing starts
    assert jobs.training_blocker(people.person(BOB)) is None
    assert jobs.training_blocker(people.LOCAL) is None
    monkeypatch.delitem(jobs._ACTIVE, other_tab)
    monkeypatch.setenv(settings.RUNS_PER_USER, "2")
    add_run(school, "ada-1", ADA)
    assert jobs.training_blocker(ada) is None
    add_run(school, "ada-2", ADA)
    assert "You have 2 runs" in jobs.training_blocker(ada)
    assert "to import another" in roster.import_blocker(ada)
    with pytest.raises(store.StoreError, match="You have 2 runs"):  # the store refuses before reading the file
        importer.import_model(b"not even a model", file_name="x.keras", actor=ada)
    assert roster.import_blocker(people.person(BOB)) is None


def test_service_order_takes_people_in_turn() -> None:
    waiting = [("a1", ADA), ("a2", ADA), ("a3", ADA), ("b1", BOB), ("c1", "cy")]
    arrival = {job: i for i, (job, _) in enumerate(waiting)}
    assert service_order(waiting, {}, arrival) == ["a1", "b1", "c1", "a2", "a3"]
    # Ada was served just now, Bob long ago: Bob's first, then whoever was never served, Ada last.
    assert service_order(waiting[1:], {BOB: 1, ADA: 2}, arrival) == ["c1", "b1", "a2", "a3"]
    assert service_order([("x", "local"), ("y", "local")], {"local": 5}, {"x": 0, "y": 1}) == ["x", "y"]  # FIFO


def test_fair_slots_give_the_free_slot_to_the_next_person() -> None:
    slots = FairSlots(lambda: 1)
    never = threading.Event()
    assert slots.acquire("a1", ADA, never)
    got: list[str] = []

    def wait(job: str, owner: str) -> None:
        if slots.acquire(job, owner, never):
            got.append(job)

    threads = []
    for job, owner in (("a2", ADA), ("a3", ADA), ("b1", BOB)):
        thread = threading.Thread(target=wait, args=(job, owner), daemon=True)
        thread.start()
        threads.append(thread)
        while slots.position(job) is None:
            time.sleep(0.01)
    assert [slots.position(j) for j in ("b1", "a2", "a3")] == [1, 2, 3]
    for _ in range(3):
        slots.release()
        deadline = time.monotonic() + 5
        before = len(got)
        while len(got) == before and time.monotonic() < deadline:
            time.sleep(0.01)
    assert got == ["b1", "a2", "a3"]
    cancelled = threading.Event()
    cancelled.set()
    assert not slots.acquire("late", BOB, cancelled)  # all slots taken and cancelled: leaves the queue
    assert slots.position("late") is None


# --- the teacher's view -----------------------------------------------------------------------------------
def test_class_rows_are_a_leaderboard_for_teachers_only(school: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_run(school, "ada-1", ADA, 0.81, "2026-11-29T10:00:00+00:00")
    add_run(school, "ada-2", ADA, 0.86, "2026-11-29T11:00:00+00:00")
    add_run(school, "bob-1", BOB, 0.90, "2026-11-29T09:00:00+00:00")
    add_run(school, "old-1", None, 0.70)
    monkeypatch.setitem(jobs._ACTIVE, object(), "cy@school.org")  # training, no run yet
    monkeypatch.setitem(jobs._LAST_START, "cy@school.org", time.time())
    with pytest.raises(people.NotAllowed, match="The Class page is for teachers"):
        roster.class_rows(people.person(ADA))
    rows = roster.class_rows(people.person(TEA))
    assert [r.person for r in rows] == [BOB, ADA, None, "cy@school.org"]
    ada = rows[1]
    assert len(ada.runs) == 2 and ada.best.id == "ada-2" and ada.best_accuracy == pytest.approx(0.86)
    assert ada.last_activity == "2026-11-29T11:00:00+00:00" and ada.trainings == 0
    assert rows[3].trainings == 1 and rows[3].best is None and rows[3].last_activity is not None
    assert "parameters" in ada.network()


def test_delete_all_of_a_person(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "ada-2", ADA)
    add_run(school, "bob-1", BOB)
    asked = [r.id for r in roster.runs_of(ADA)]
    assert sorted(asked) == ["ada-1", "ada-2"]
    with pytest.raises(store.StoreError, match="only its owner or a teacher"):
        roster.delete_all_of(ADA, people.person(BOB), asked)
    assert len(store.list_runs(include_shipped=False)) == 3  # nothing of Ada's went
    add_run(school, "ada-3", ADA)  # made after the question was asked: not among the ids, so it stays
    assert sorted(roster.delete_all_of(ADA, people.person(ADA), asked)) == ["ada-1", "ada-2"]
    assert [r.id for r in roster.runs_of(ADA)] == ["ada-3"]
    assert roster.delete_all_of(ADA, people.person(TEA), ["ada-1", "ada-3"]) == ["ada-3"]  # ada-1 already gone
    assert roster.delete_all_of(BOB, people.person(TEA), ["bob-1"]) == ["bob-1"]
    assert store.list_runs(include_shipped=False) == []


def test_shared_files_are_not_runs_and_survive_every_delete(school: Path) -> None:
    """Quiz scores, deletion records and stray files of every kind in the home are never listed, counted as
    someone's runs, or deleted by a run's deletion."""
    add_run(school, "ada-1", ADA)
    add_run(school, "old-1", None)
    quiz.record_round(ADA, guess=1, model_answer=1, true_label=1, home=school)
    strays = {
        "notes.json": '{"hello": 1}',  # JSON that is no run's metadata
        "list.json": "[1, 2, 3]",  # JSON, not an object, no model beside it
        "broken.json": "{not json",  # unreadable, no model beside it
        "other-id.json": '{"id": "someone-else"}',  # names another id
        "readme.txt": "text",
        "orphan.keras": "not a model",  # a model file without metadata
    }
    for name, text in strays.items():
        (school / name).write_text(text)
    (school / "sub").mkdir()
    (school / "sub" / "x-1.json").write_text('{"id": "x-1"}')
    listed = [r.id for r in store.list_runs(include_shipped=False)]
    assert sorted(listed) == ["ada-1", "old-1"]
    rows = {row.person: row for row in roster.class_rows(people.person(TEA), school)}
    assert len(rows[None].runs) == 1 and rows[ADA].quiz_score.rounds == 1
    for stem in ("notes", "list", "broken", "other-id", "quiz-scores", "shared", "orphan"):
        with pytest.raises(store.StoreError, match="no saved run"):
            store.delete_run(stem, actor=people.person(TEA))
        with pytest.raises(store.StoreError):
            store.get_run(stem)
    assert roster.delete_all_of(None, people.person(TEA), [r.id for r in roster.runs_of(None)]) == ["old-1"]
    assert roster.delete_all_of(ADA, people.person(TEA), ["ada-1"]) == ["ada-1"]
    for name, text in strays.items():
        assert (school / name).read_text() == text
    assert quiz.score_of(ADA, school).rounds == 1  # every person's quiz score is still there
    assert sorted(p.name for p in paths.shared_dir(school).iterdir() if not p.name.startswith(".")) == [
        "deleted-runs.json",
        "quiz-scores.json",
    ]


def test_a_damaged_run_with_its_model_file_is_still_a_run(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    (school / "ada-1.json").write_text("{half written")
    (listed,) = store.list_runs(include_shipped=False)
    assert listed.id == "ada-1" and listed.status == "damaged"
    store.delete_run("ada-1", actor=people.person(TEA))
    assert not (school / "ada-1.keras").exists()


def test_quiz_scores_left_beside_the_runs_move_to_the_shared_folder(school: Path) -> None:
    (school / "quiz-scores.json").write_text(
        json.dumps({ADA: {"rounds": 3, "predicted_model": 2, "true_label_strategy": 1}})
    )
    assert quiz.score_of(ADA, school).rounds == 3
    assert not (school / "quiz-scores.json").exists()
    assert (paths.shared_dir(school) / "quiz-scores.json").is_file()
    assert store.list_runs(include_shipped=False) == []


def test_a_deleted_run_says_who_deleted_it(school: Path) -> None:
    add_run(school, "ada-1", ADA)
    add_run(school, "ada-2", ADA)
    add_run(school, "bob-1", BOB)
    store.delete_run("ada-1", actor=people.person(TEA))
    store.delete_run("ada-2", actor=people.person(ADA))
    store.delete_run("bob-1", actor=people.administrator())
    with pytest.raises(store.StoreError, match="Run ada-1 was deleted by a teacher"):
        store.get_run("ada-1", actor=people.person(ADA))
    assert store.deleted_by("ada-2") == "its owner"
    assert store.deleted_by("bob-1") == "the server's administrator"
    assert store.deleted_by("never-was") is None
    with pytest.raises(store.StoreError, match="no saved run with id 'never-was'"):
        store.get_run("never-was")


# --- the command line ---------------------------------------------------------------------------------------
def test_cli_models_json_shows_owner(school: Path, capsys: pytest.CaptureFixture) -> None:
    add_run(school, "ada-1", ADA)
    assert commands.main(["models", "--json"]) == 0
    listed = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["ada-1"]["owner"] == ADA and listed["default"]["owner"] is None
    assert commands.main(["models", "--delete", "ada-1"]) == 0  # the administrator may delete anyone's run
    assert commands.main(["models", "--owner", ADA]) == 1
    assert "--owner goes with --import" in capsys.readouterr().err


def test_cli_train_owner_is_the_jobs_actor(school: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    seen = {}

    class FakeJob:
        def __init__(self, config, *, actor, **kwargs) -> None:
            seen["actor"] = actor
            raise store.StoreError("stop here")

    monkeypatch.setattr(jobs, "TrainingJob", FakeJob)
    monkeypatch.setattr(fashion_mnist, "find_data_dir", lambda *a, **k: None)
    assert commands.main(["train", "--owner", ADA, "--epochs", "1"]) == 1
    assert seen["actor"] == people.administrator(ADA) and seen["actor"].unrestricted


@pytest.mark.skipif(not HAS_REAL_DATA, reason="importing evaluates on the real test set")
def test_cli_import_owner_and_the_page_limit_does_not_bind_the_command_line(
    school: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(settings.RUNS_PER_USER, "1")
    add_run(school, "ada-1", ADA)  # Ada's share is full for the pages, not for the administrator
    path = paths.ASSETS_DIR / "default.keras"
    args = ["models", "--import", str(path), "--name", "ada-import", "--owner", ADA, "--json"]
    assert commands.main([*args, "--data-dir", str(REAL_DATA_DIR)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["owner"] == ADA
    assert store.get_run("ada-import").metadata.owner == ADA
    with pytest.raises(store.StoreError, match="You have 2 runs"):
        importer.import_model(path, name="one-more", data_dir=REAL_DATA_DIR, actor=people.person(ADA))


def test_a_class_tells_its_runs_apart_by_owner(school: Path) -> None:
    add_run(school, "ada-1", ADA, 0.4263, "2026-12-07T20:28:00+00:00")
    add_run(school, "tea-1", TEA, 0.4263, "2026-12-07T20:28:00+00:00")
    add_run(school, "old-1", None, 0.5)
    runs = {r.id: r for r in store.list_runs()}
    assert runs["ada-1"].label() == runs["tea-1"].label()  # without sign-in, one person: no owner to name
    assert runs["ada-1"].label(with_owner=True) == f"ada · {runs['ada-1'].label()}"
    assert runs["tea-1"].label(with_owner=True).startswith("tea · ")
    assert runs["old-1"].label(with_owner=True).startswith("nobody · ")
    assert runs["default"].label(with_owner=True) == runs["default"].label()  # shipped: everyone's
    assert people.short_name("a.very.long.name.indeed@school.org") == "a.very.long.nam…"
