"""The class colours stay apart for colour-blind eyes: every pair, simulated for full protanopia and deuteranopia
(Machado, Oliveira & Fernandes 2009, severity 1, applied in linear RGB), differs by at least MIN_DELTA_E in CIELAB
(CIE 1976), as it does for normal vision."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.layout import CLASS_COLOURS

MIN_DELTA_E = 15.0  # CIE76; about 2.3 is a just-noticeable difference, 15 reads as another colour at a glance
SIMULATIONS = {
    "normal vision": np.eye(3),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
}
# The palette before: plotly's qualitative one, whose pairs collapse under protanopia (ΔE 4.6).
PLOTLY_D3 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def linear_rgb(colour: str) -> np.ndarray:
    srgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def cielab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (D65 white) of linear sRGB."""
    to_xyz = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = to_xyz @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(palette: tuple[str, ...], simulation: np.ndarray) -> tuple[float, int, int]:
    seen = [cielab(np.clip(simulation @ linear_rgb(c), 0.0, 1.0)) for c in palette]
    return min((float(np.linalg.norm(seen[i] - seen[j])), i, j) for i, j in itertools.combinations(range(len(seen)), 2))


@pytest.mark.parametrize("vision", list(SIMULATIONS))
def test_every_pair_of_class_colours_stays_apart(vision: str) -> None:
    assert len(CLASS_COLOURS) == len(CLASS_NAMES) == len(set(CLASS_COLOURS))
    delta, i, j = closest_pair(CLASS_COLOURS, SIMULATIONS[vision])
    assert delta >= MIN_DELTA_E, f"{vision}: {CLASS_NAMES[i]} and {CLASS_NAMES[j]} differ by ΔE {delta:.1f}"


def test_the_check_tells_a_palette_that_collapses() -> None:
    delta, _, _ = closest_pair(PLOTLY_D3, SIMULATIONS["protanopia"])
    assert delta < MIN_DELTA_E / 2
    assert closest_pair(PLOTLY_D3, SIMULATIONS["normal vision"])[0] > MIN_DELTA_E  # fine for normal vision only
