"""A class on one server in a real browser, signed in through a real OpenID Connect provider.

The module starts `oidc-provider-mock` on a free loopback port and a `streamlit run` whose secrets file (passed with
`--secrets.files`) has an `[auth]` section pointing at it. Two students and a teacher sign in, each in a browser
context of their own, at `localhost` (the host of redirect_uri, so the login cookie is theirs). The store holds
runs made by copying the shipped model under owners' names; one tiny real training tests the per-person limit
across tabs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bench.browser import free_port, start_server, stop_server
from fmnist_core import people
from fmnist_core.runs import paths, store

from .harness import REPO_ROOT, AppServer, goto, wait_for_app

ADA, BOB, TEA = "ada@school.org", "bob@school.org", "tea@school.org"
# (id, owner, test accuracy, name): the teacher's leaderboard order is Bob, Ada, then the run without owner.
RUNS = (
    ("ada-1", ADA, 0.85, "Ada first"),
    ("ada-2", ADA, 0.83, "Ada second"),
    ("bob-1", BOB, 0.90, "Bob first"),
    ("old-1", None, 0.70, "Before owners"),
)
SHOTS = REPO_ROOT / "test-results" / "class"


def _get(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback test server
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """oidc-provider-mock on 127.0.0.1 and a free port; its port. Stopped after the module."""
    port = free_port()
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("w")
    command = [str(Path(sys.executable).with_name("oidc-provider-mock")), "-p", str(port), "-H", "127.0.0.1"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _get(f"http://127.0.0.1:{port}/.well-known/openid-configuration"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"oidc-provider-mock did not start (exit code {process.poll()})")
        time.sleep(0.2)
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def fmnist_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's store: the shipped model copied as runs of Ada, Bob and nobody."""
    home = tmp_path_factory.mktemp("class_home")
    shipped = json.loads((paths.ASSETS_DIR / "default.json").read_text())
    for minute, (run_id, owner, accuracy, name) in enumerate(RUNS):
        shutil.copy2(paths.ASSETS_DIR / "default.keras", home / f"{run_id}.keras")
        meta = {**shipped, "id": run_id, "test_accuracy": accuracy, "name": name}
        meta["created"] = f"2026-11-29T10:{minute:02d}:00+00:00"
        if owner is not None:
            meta["owner"] = owner
        (home / f"{run_id}.json").write_text(json.dumps(meta))
    return home


@pytest.fixture(scope="module")
def app_server(provider: int, fmnist_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with sign-in: its own secrets file, one teacher, at most 2 runs per person."""
    folder = tmp_path_factory.mktemp("class_server")
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        'cookie_secret = "a-cookie-secret-for-tests-only"\n'
        'client_id = "fmnist-dashboard"\n'
        'client_secret = "not-checked-by-the-mock"\n'
        f'server_metadata_url = "http://127.0.0.1:{provider}/.well-known/openid-configuration"\n'
    )
    env = {
        "FMNIST_HOME": str(fmnist_home),
        "FMNIST_TEACHERS": TEA,
        "FMNIST_RUNS_PER_USER": "2",
        "FMNIST_WARM_IDLE_SECONDS": "0",
    }
    log_path = folder / "server.log"
    process, url, _ = start_server(
        REPO_ROOT / "app.py", env=env, log_path=log_path, port=port, extra_args=["--secrets.files", str(secrets)]
    )
    server = AppServer(
        url.replace("127.0.0.1", "localhost"),
        {**os.environ, **env},
        port,
        REPO_ROOT / "app.py",
        log_path,
        process,
    )
    try:
        yield server
    finally:
        stop_server(process)


def log_in(page: Page, server: AppServer, identity: str) -> None:
    """Log in as a person does: the app's button, the provider's form, back to the app."""
    goto(page, server, "/")
    page.get_by_role("button", name="Log in").click()
    page.locator("input[name='sub']").fill(identity)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(rf"^http://localhost:{server.port}/"))
    wait_for_app(page, server=server)
    expect(sidebar(page).get_by_text(re.compile(f"^Signed in as {re.escape(identity)}"))).to_be_visible()


def sidebar(page: Page):  # noqa: ANN201 - a Locator
    return page.get_by_test_id("stSidebar")


@pytest.fixture(scope="module")
def contexts(chromium_browser: Browser, app_server: AppServer) -> Iterator[dict[str, BrowserContext]]:
    """Ada, Bob and the teacher, each signed in in a browser context of their own."""
    made = {}
    try:
        for identity in (ADA, BOB, TEA):
            context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
            made[identity] = context
            log_in(context.new_page(), app_server, identity)
        yield made
    finally:
        for context in made.values():
            context.close()


def page_of(contexts: dict[str, BrowserContext], identity: str) -> Page:
    return contexts[identity].pages[0]


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_signed_out_visitor_sees_no_data(chromium_browser: Browser, app_server: AppServer) -> None:
    for scheme in ("light", "dark"):
        for width in (1400, 800):
            context = chromium_browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            try:
                page = context.new_page()
                goto(page, app_server, "/model?model=bob-1")
                expect(page.get_by_role("button", name="Log in")).to_be_visible()
                body = page.get_by_test_id("stApp").inner_text()
                for run_id, _owner, _acc, name in RUNS:
                    assert run_id not in body and name not in body
                assert page.get_by_test_id("stPlotlyChart").count() == 0
                assert page.get_by_test_id("stImage").count() == 0
                assert page.get_by_role("combobox", name="Model").count() == 0
                shoot(page, f"login-{scheme}-{width}")
            finally:
                context.close()


def test_ownership_shown_and_no_delete_of_anothers_run(
    contexts: dict, app_server: AppServer, fmnist_home: Path, chromium_browser: Browser
) -> None:
    page = page_of(contexts, ADA)
    goto(page, app_server, "/model?model=bob-1")
    expect(page.get_by_text(re.compile(rf"status finished · by {re.escape(BOB)}$"))).to_be_visible()
    box = page.get_by_role("combobox", name="Run to delete")
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box.click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert any("Ada first" in o for o in options) and not any("Bob" in o or "Before owners" in o for o in options)
    assert page.get_by_role("button", name="Rename").count() == 0  # Bob's run: read-only for Ada
    for scheme, width in (("dark", 800), ("light", 800)):
        context = chromium_browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme, storage_state=contexts[ADA].storage_state()
        )
        try:
            narrow = context.new_page()
            goto(narrow, app_server, "/model?model=bob-1")
            expect(narrow.get_by_role("button", name="Delete all my runs…")).to_be_visible()
            shoot(narrow, f"model-{scheme}-{width}")
        finally:
            context.close()
    with pytest.raises(store.StoreError, match=rf"^Run bob-1 belongs to {re.escape(BOB)}; only its owner or a teacher"):
        store.delete_run("bob-1", fmnist_home, actor=people.person(ADA))
    assert (fmnist_home / "bob-1.json").is_file()


def test_saved_runs_table_shows_the_owner_whole(contexts: dict, app_server: AppServer) -> None:
    """The owner column of the saved runs reads whole at 1400 and 800 px (at 800 it came after the wide run column,
    cut at the table's edge). The grid draws its cells on a canvas and keeps, for screen readers, a table of the
    columns in view only: a column after the owner's in that table means the owner's ends inside the view."""
    page = page_of(contexts, ADA)
    goto(page, app_server, "/model")
    table = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text=re.compile(r"^owner$")))
    try:
        for width in (1400, 800):
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(600)
            table.scroll_into_view_if_needed()
            shown = table.locator("th").all_text_contents()
            assert "owner" in shown and shown.index("owner") < len(shown) - 1, (
                f"at {width} px the columns in view: {shown}"
            )
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_class_page_rows_and_order(contexts: dict, app_server: AppServer, chromium_browser: Browser) -> None:
    student = page_of(contexts, ADA)
    goto(student, app_server, "/class")
    expect(student.get_by_text(re.compile("^The Class page is for teachers"))).to_be_visible()
    assert student.get_by_test_id("stTable").count() == 0
    expect(sidebar(student).get_by_role("link", name="Class")).to_have_count(0)  # no link to a page not theirs
    teacher = page_of(contexts, TEA)
    expect(sidebar(teacher).get_by_role("link", name="Class")).to_have_count(1)
    expect(sidebar(teacher).get_by_text(f"Signed in as {TEA} (teacher)")).to_be_visible()
    goto(teacher, app_server, "/class")
    rows = teacher.get_by_test_id("stTable").locator("tbody tr")
    expect(rows).to_have_count(3)
    people_in_order = [rows.nth(i).locator("td").nth(1).inner_text().strip() for i in range(3)]
    assert people_in_order == [BOB, ADA, "nobody (saved before owners)"]
    # Columns: rank, person, best test accuracy, runs, training now, last activity, best run, network.
    first = rows.nth(0).locator("td")
    assert first.nth(2).inner_text().strip() == "90.00%" and first.nth(3).inner_text().strip() == "1"
    assert first.nth(1).get_by_role("link").get_attribute("href") == f"mailto:{BOB}"  # the teacher may write to them
    link = first.nth(6).get_by_role("link")
    assert link.inner_text().startswith("Bob first") and link.get_attribute("href").endswith("/model?model=bob-1")
    assert rows.nth(1).locator("td").nth(3).inner_text().strip() == "2"
    assert first.nth(7).inner_text().startswith("conv 64 3x3")
    shoot(teacher, "class-light-1400")
    for scheme, width in (("dark", 1400), ("light", 800), ("dark", 800)):
        context = chromium_browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme, storage_state=contexts[TEA].storage_state()
        )
        try:
            page = context.new_page()
            goto(page, app_server, "/class")
            expect(page.get_by_test_id("stTable")).to_be_visible()
            shoot(page, f"class-{scheme}-{width}")
        finally:
            context.close()


def test_per_person_limits_with_their_sentences(contexts: dict, app_server: AppServer) -> None:
    ada = page_of(contexts, ADA)
    goto(ada, app_server, "/train")
    full = re.compile(r"^You have 2 runs and each person may keep 2; delete one")
    expect(ada.get_by_text(full)).to_be_visible()
    expect(ada.get_by_role("button", name="Train", exact=True)).to_be_disabled()
    goto(ada, app_server, "/model")
    ada.get_by_text("Import a model (.keras)").first.click()
    expect(ada.get_by_text(re.compile(r"^You have 2 runs.* to import another\.$"))).to_be_visible()
    expect(ada.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    # Bob trains in one tab; his other tab may not start another (one training per person by default).
    bob = page_of(contexts, BOB)
    goto(bob, app_server, "/train")
    for label, value in (("Training images", 600), ("Epochs", 1)):
        field = bob.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Enter")
        wait_for_app(bob, server=app_server)
    bob.get_by_role("button", name="Train", exact=True).click()
    other_tab = contexts[BOB].new_page()
    try:
        goto(other_tab, app_server, "/train")
        busy = re.compile(r"^You may have 1 training running or waiting at a time")
        expect(other_tab.get_by_text(busy)).to_be_visible()
        expect(other_tab.get_by_role("button", name="Train", exact=True)).to_be_disabled()
        shoot(other_tab, "train-limit-light-1400")
    finally:
        other_tab.close()
    expect(bob.get_by_text("Training finished.", exact=True)).to_be_visible(timeout=240_000)


def test_teacher_deletes_all_runs_of_a_person(contexts: dict, app_server: AppServer, fmnist_home: Path) -> None:
    teacher = page_of(contexts, TEA)
    goto(teacher, app_server, "/class")
    box = teacher.get_by_role("combobox", name="Person")
    box.click()
    teacher.get_by_role("option", name="nobody (saved before owners)").click()
    wait_for_app(teacher, server=app_server)
    teacher.get_by_role("button", name="Delete all runs of this person…").click()
    wait_for_app(teacher, server=app_server)
    expect(teacher.get_by_text(re.compile("^Delete these 1 run of"))).to_be_visible()
    expect(teacher.get_by_text(re.compile("^• nobody · "))).to_have_count(1)  # exactly what it will delete
    teacher.get_by_role("button", name="Yes, delete them all").click()
    wait_for_app(teacher, server=app_server)
    expect(teacher.get_by_text("Deleted 1 run of nobody (saved before owners).")).to_be_visible()
    assert not (fmnist_home / "old-1.json").exists() and (fmnist_home / "ada-1.json").exists()


def test_delete_all_my_runs(contexts: dict, app_server: AppServer, fmnist_home: Path) -> None:
    ada = page_of(contexts, ADA)
    goto(ada, app_server, "/model")
    ada.get_by_role("button", name="Delete all my runs…").click()
    wait_for_app(ada, server=app_server)
    expect(ada.get_by_text("Delete these 2 runs of yours?", exact=False)).to_be_visible()
    expect(ada.get_by_text(re.compile("• ada · "))).to_have_count(1)  # one text block lists both runs
    shoot(ada, "delete-mine-light-1400")
    ada.get_by_role("button", name="Yes, delete all my runs").click()
    wait_for_app(ada, server=app_server)
    expect(ada.get_by_text("Deleted your 2 runs.")).to_be_visible()
    assert not any(r.metadata.owner == ADA for r in store.list_runs(fmnist_home, include_shipped=False))
    assert (fmnist_home / "bob-1.json").exists()
    goto(ada, app_server, "/train")
    expect(ada.get_by_role("button", name="Train", exact=True)).to_be_enabled()  # a place is free again


def test_log_out(contexts: dict, app_server: AppServer) -> None:
    """Log out says beforehand that the provider may ask to confirm; it ends the session at the provider too (its
    end_session_endpoint), which is asked to send the browser back to the app (Streamlit passes its redirect_uri,
    /oauth2callback, which forwards to the app's root). The mock always asks to confirm; then the login screen."""
    bob = page_of(contexts, BOB)
    goto(bob, app_server, "/model")
    button = sidebar(bob).get_by_role("button", name="Log out")
    button.hover()
    expect(bob.get_by_test_id("stTooltipContent")).to_contain_text("it sends you back to this app's login screen")
    button.click()
    bob.wait_for_url(re.compile(r"/oauth2/end_session\?"))
    asked = parse_qs(urlparse(bob.url).query)
    assert asked["post_logout_redirect_uri"] == [f"http://localhost:{app_server.port}/oauth2callback"], asked
    assert asked["id_token_hint"], asked  # lets a provider end the right session without asking whose
    bob.get_by_role("button", name="End session").click()
    bob.wait_for_url(f"http://localhost:{app_server.port}/", timeout=30_000)
    expect(bob.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    wait_for_app(bob, server=app_server)
    assert bob.get_by_role("combobox", name="Model").count() == 0
    assert "Bob first" not in bob.get_by_test_id("stApp").inner_text()
    goto(bob, app_server, "/model")  # the cookie is gone: a new visit is signed out too
    expect(bob.get_by_role("button", name="Log in")).to_be_visible()
