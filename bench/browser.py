"""The real server and the real browser, shared by the browser tests and the benchmarks.

One place for Debian's Chromium path and launch flags, a free loopback port, and `streamlit run` started in
its own process group and polled until /_stcore/health says ok.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Headless Chromium as root on a machine without network: no sandbox, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The app is connected and its script run has finished.
APP_IDLE = "[data-testid='stApp'][data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """True when Streamlit's health endpoint answers ok."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


class ServerFailed(RuntimeError):
    """The server exited or never became healthy; the message carries its log tail."""


def start_server(
    script: Path | str = "app.py",
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    root: Path = ROOT,
) -> tuple[subprocess.Popen, str, float]:
    """Start `streamlit run SCRIPT` on 127.0.0.1 and a free port (or `port`) from the repo root; `extra_args` are
    more `streamlit run` options (e.g. `--secrets.files PATH` for a server with sign-in). `root` is the folder it
    runs in (its .streamlit/config.toml applies): another checkout for a side-by-side comparison.

    Returns the process, its base URL (no trailing slash) and the seconds until it was healthy. The process
    leads its own group, so `stop_server` ends every child it started.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--logger.enableRich",  # plain tracebacks in the log, not rich's forced ANSI colours
        "false",
        *extra_args,
    ]
    out = log_path.open("w") if log_path is not None else subprocess.DEVNULL
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log_path is not None:
            out.close()
    deadline = started + timeout
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            why = (
                f"exited with code {process.returncode}"
                if process.poll() is not None
                else f"not healthy after {timeout:.0f} s"
            )
            stop_server(process)
            tail = log_path.read_text(errors="replace")[-3000:] if log_path is not None and log_path.exists() else ""
            raise ServerFailed(f"streamlit {why}:\n{tail}")
        time.sleep(0.2)
    return process, url, time.monotonic() - started


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def launch_chromium(playwright, **kwargs):  # noqa: ANN001, ANN201 - sync or async Playwright alike
    """Debian's Chromium, headless, with the flags above (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **kwargs)


# Page coordinates of one point of a plotly trace: where a person would click it.
_POINT_XY = """(el, [trace, k]) => {
  const gd = el.querySelector('.js-plotly-plot');
  const tr = gd._fullData[trace];
  const xa = gd._fullLayout[tr.xaxis === 'x' ? 'xaxis' : 'xaxis' + tr.xaxis.slice(1)];
  const ya = gd._fullLayout[tr.yaxis === 'y' ? 'yaxis' : 'yaxis' + tr.yaxis.slice(1)];
  const r = gd.getBoundingClientRect();
  const x = xa.c2p(xa.d2c(tr.x[k]));
  const y = ya.c2p(ya.d2c(tr.y[k]));
  return {x: r.left + xa._offset + x, y: r.top + ya._offset + y};
}"""


def point_xy(chart, trace: int, point: int) -> dict[str, float]:  # noqa: ANN001 - a Playwright Locator
    """Page coordinates {x, y} of point `point` of trace `trace` in the plotly chart `chart` (a stPlotlyChart)."""
    return chart.evaluate(_POINT_XY, [trace, point])
