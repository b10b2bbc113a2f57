"""The README's pictures, taken from a running server so they show the app as it is now.

Usage: python -m bench.screenshots [--out docs/images]

Starts `streamlit run app.py` on a fresh store (the shipped models only), opens two pages in Chromium at 1400x900,
one in light and one in dark (the viewer's system setting picks the theme), and saves PNGs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.browser import APP_IDLE, ROOT, launch_chromium, start_server, stop_server

SHOTS = (
    # (file, path, colour scheme, text that must be on screen before the picture is taken)
    ("test-images-light.png", "/test_images?image=110", "light", "Test image #110"),
    ("feature-maps-dark.png", "/feature_maps?image=0&layer=conv2d&channel=7", "dark", "conv2d · channel 7"),
)


def take(out: Path) -> list[Path]:
    """Every picture of SHOTS into `out`; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="fmnist-shots-")
    proc, url, _ = start_server(env={"FMNIST_HOME": home})
    written = []
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for name, path, scheme, shown in SHOTS:
                context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
                page = context.new_page()
                page.goto(url + path)
                page.get_by_text(shown).first.wait_for(timeout=120_000)
                page.wait_for_timeout(500)
                page.locator(APP_IDLE).wait_for(state="attached", timeout=120_000)
                charts = page.locator(".js-plotly-plot")
                charts.first.wait_for(timeout=120_000)
                page.wait_for_function(  # every chart drawn, and the images inside them decoded
                    "() => [...document.querySelectorAll('.js-plotly-plot')].every((gd) => gd._fullLayout)"
                    " && [...document.querySelectorAll('.js-plotly-plot image')].every((im) => im.getBBox().width > 0)",
                    timeout=60_000,
                )
                page.wait_for_timeout(1000)
                target = out / name
                page.screenshot(path=str(target))
                written.append(target)
                context.close()
            browser.close()
    finally:
        stop_server(proc)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args(argv)
    for path in take(Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
