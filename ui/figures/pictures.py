"""Pictures, not charts: numpy arrays in, RGB pixels or a PNG out (sharp when the browser scales them up)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paint(gray: np.ndarray, level: np.ndarray, stops: Sequence[tuple[float, Sequence[float]]]) -> np.ndarray:
    """Colour `level` (0..1, one value per pixel) through `stops` of (position, (r, g, b, alpha)) and lay it over
    `gray` (0..255, same shape): RGB uint8 pixels.

    Pictures, not charts, where a page shows many maps at once (the exemplars, the why panel): the browser builds
    each plotly chart on its own (docs/performance.md), and a picture costs it next to nothing.
    """
    positions = np.array([position for position, _ in stops], dtype=float)
    rgba = np.array([colour for _, colour in stops], dtype=float)
    colour = np.stack([np.interp(level, positions, rgba[:, c]) for c in range(4)], axis=-1)
    alpha = colour[..., 3:]
    return np.rint(np.asarray(gray, dtype=float)[..., None] * (1 - alpha) + colour[..., :3] * alpha).astype(np.uint8)


def png_data_uri(rgba: np.ndarray) -> str:
    """An (H, W, 3 or 4) uint8 array as a data: URI of a PNG, for plotly's Image(source=...) or an HTML <img>."""
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(out, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def pixels(image: np.ndarray, scale: int = 3) -> np.ndarray:
    """A 0..1 (28, 28) image as uint8, each pixel a scale x scale block (st.image would blur a small image)."""
    as_bytes = np.clip(np.rint(np.asarray(image) * 255), 0, 255).astype(np.uint8)
    return np.kron(as_bytes, np.ones((scale, scale), dtype=np.uint8))
