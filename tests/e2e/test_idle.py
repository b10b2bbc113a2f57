"""A server that idles when idle: after a person has used every page, trained, imported and
uploaded, the server process holds no inotify watches on .venv and uses almost no CPU while nobody clicks.

The server is started as `make run` starts it: no --server.fileWatcherType on the command line, so what is
checked is the repo's .streamlit/config.toml.
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from fmnist_core.data.fashion_mnist import load_test_set

from .harness import REPO_ROOT, AppServer, goto, train_on_page, wait_for_app

WARM_WORKERS = True  # as `make run` starts it: the warm pool's thread is part of what must idle
IDLE_SECONDS = 30
MAX_IDLE_CORE_SHARE = 0.05
PAGES = ["/", "/train", "/test_images?image=1", "/feature_maps?image=0", "/model", "/embedding"]


def inotify_watches(pid: int) -> list[int]:
    """Inode numbers of every inotify watch the process holds (one `inotify wd:` line per watch in fdinfo)."""
    inodes = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:  # the fd closed meanwhile
            continue
        inodes += [int(m, 16) for m in re.findall(r"^inotify wd:\S+ ino:([0-9a-f]+)", text, flags=re.M)]
    return inodes


def venv_inodes() -> set[int]:
    """The inode of every directory under the repo's .venv (where the watches were seen)."""
    venv = REPO_ROOT / ".venv"
    found = set()
    for folder, _, _ in os.walk(venv, followlinks=False):
        found.add(os.stat(folder).st_ino)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_server_idles_after_a_full_visit(app_server: AppServer, app_page: Page, tmp_path: Path) -> None:
    page = app_page
    for path in PAGES:
        goto(page, app_server, path)

    # Train a tiny run through the page.
    goto(page, app_server, "/train")
    train_on_page(page, app_server, images=600, epochs=1)

    # Upload an image on Test images, import a model on Model.
    image = load_test_set().images[4]
    png = tmp_path / "coat.png"
    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((112, 112)).save(buf, "PNG")
    png.write_bytes(buf.getvalue())
    goto(page, app_server, "/test_images?image=0")
    page.get_by_role("tab", name="Your image").click()
    page.get_by_test_id("stFileUploader").locator("input[type='file']").set_input_files(str(png))
    wait_for_app(page, server=app_server)
    expect(page.get_by_text("What the model sees (28×28)")).to_be_visible(timeout=30_000)

    import keras

    model_file = tmp_path / "idle-check.keras"
    keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    ).save(model_file)
    goto(page, app_server, "/model")
    page.get_by_text("Import a model (.keras)").first.click()
    panel = page.get_by_test_id("stExpander").filter(has_text="Import a model")
    panel.locator("input[type=file]").set_input_files(str(model_file))
    wait_for_app(page, server=app_server)
    panel.get_by_role("button", name="Import").click()
    expect(panel.get_by_text("Imported", exact=False)).to_be_visible(timeout=60_000)
    wait_for_app(page, server=app_server)

    pid = app_server.process.pid
    watched = inotify_watches(pid)
    on_venv = set(watched) & venv_inodes()
    assert not on_venv, f"the server watches {len(on_venv)} .venv directories ({len(watched)} watches in all)"

    # The page stays open (its websocket connected); nobody clicks for 30 s.
    page.wait_for_timeout(2000)
    before, started = cpu_seconds(pid), time.monotonic()
    page.wait_for_timeout(IDLE_SECONDS * 1000)
    share = (cpu_seconds(pid) - before) / (time.monotonic() - started)
    assert share < MAX_IDLE_CORE_SHARE, f"the idle server used {share:.1%} of a core over {IDLE_SECONDS} s"
    assert np.isfinite(share)
