"""Turn a user's image file into what the model expects: a 28x28 uint8, light object on a dark background.

Every way an upload can be bad (empty, not an image, truncated, a decompression bomb, too large) becomes an
UploadError with one clear sentence; odd but valid modes (16-bit, CMYK, palette, animation) are converted and
reported as notes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000  # about 5000x5000; larger images are refused before decoding
ACCEPTED_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")


class UploadError(ValueError):
    """An upload we cannot use; the message says why in one sentence."""


@dataclass
class PreparedImage:
    """The model's 28x28 input, the original as RGB for display, and what was done to get there."""

    image: np.ndarray  # uint8 (28, 28)
    original: np.ndarray  # uint8 (H, W) grayscale, for showing beside the 28x28
    notes: list[str] = field(default_factory=list)


def _open(raw: bytes) -> Image.Image:
    if len(raw) == 0:
        raise UploadError("The file is empty (0 bytes).")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(f"The file is {len(raw) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 2**20:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            if img.width * img.height > MAX_PIXELS:
                raise UploadError(
                    f"The image is {img.width}x{img.height} pixels; images over {MAX_PIXELS:,} pixels are refused."
                )
            img.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadError(f"The image is too large to decode safely ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise UploadError("The file is not an image Pillow can read (PNG, JPEG, WebP, BMP or GIF).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"The image is damaged or truncated ({exc}).") from exc
    return img


def _to_gray(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any mode to float grayscale 0..255; transparency is flattened onto white."""
    if getattr(img, "n_frames", 1) > 1:
        notes.append(f"Animated image with {img.n_frames} frames: using the first frame.")
        img.seek(0)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        notes.append(f"High bit-depth image ({mode}): rescaled to 8 bits.")
        return (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
    if mode == "CMYK":
        notes.append("CMYK image: converted to RGB.")
        img = img.convert("RGB")
    if mode == "P":
        notes.append("Palette image: converted to RGBA.")
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("L"), dtype=np.float64)


def to_model_input(gray: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """Grayscale (H, W) 0..255 -> 28x28 uint8 like Fashion-MNIST: dark background, object cropped, padded, resized."""
    notes = notes if notes is not None else []
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255.0 - gray
        notes.append("Light background: colours inverted (Fashion-MNIST is a light object on black).")
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    gray = np.clip(gray - background, 0, None)
    peak = float(gray.max())
    if peak < 24:  # a few grey levels of noise on an empty page are not an object
        raise UploadError("The image is blank: no object stands out from the background.")
    gray = gray * (255.0 / peak)
    ys, xs = np.nonzero(gray > 0.1 * 255)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = gray[top:bottom, left:right]
    side = max(crop.shape)
    square = np.zeros((side, side), dtype=np.float64)
    y0, x0 = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
    small = Image.fromarray(np.clip(square, 0, 255).astype(np.uint8)).resize((28, 28), Image.Resampling.LANCZOS)
    out = np.asarray(small, dtype=np.float64)
    # Stretch again after resizing: downscaling averages the peak away, and Fashion-MNIST images peak at 255.
    return np.clip(np.round(out * 255.0 / max(out.max(), 1.0)), 0, 255).astype(np.uint8)


def prepare_upload(raw: bytes) -> PreparedImage:
    """Bytes of an uploaded file -> PreparedImage, or UploadError with the reason."""
    img = _open(raw)
    notes: list[str] = []
    img = ImageOps.exif_transpose(img) if img.format == "JPEG" else img
    gray = _to_gray(img, notes)
    model_input = to_model_input(gray, notes)
    return PreparedImage(image=model_input, original=np.clip(gray, 0, 255).astype(np.uint8), notes=notes)
