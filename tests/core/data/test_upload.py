"""fmnist_core.data.upload: any reasonable image file becomes a Fashion-MNIST-like 28x28; every bad one is a clear UploadError.

Every image here is made by the tests (Pillow/numpy), most from real Fashion-MNIST test images turned into the
kind of file a user would upload: big, dark object on white, JPEG-compressed or cut out on a transparent background.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable

import keras
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

from fmnist_core.data import fashion_mnist, upload
from fmnist_core.data.upload import UploadError, prepare_upload
from fmnist_core.nets.inference import predict_proba

INVERTED = "Light background: colours inverted"
N_AGREE = 40  # the first 40 test images...
CONFIDENT = 0.9  # ...of which the test checks those the shipped model is sure of (31 of 40)
# All checked images must agree. Borderline images (top probability < 0.9) may flip either way: the retrained
# default agreed on 37-38 of all 40, with as many right as the originals (38 of 40 true labels either way).
NEAREST, BICUBIC = Image.Resampling.NEAREST, Image.Resampling.BICUBIC


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def upscaled(image: np.ndarray, resample: Image.Resampling, factor: int = 10) -> np.ndarray:
    side = image.shape[0] * factor
    return np.asarray(Image.fromarray(image).resize((side, side), resample))


def white_jpeg(image: np.ndarray, resample: Image.Resampling) -> bytes:
    """A 28x28 test image as a user's photo would be: 280x280, dark object on white, JPEG quality 90."""
    return encode(Image.fromarray(255 - upscaled(image, resample)), "JPEG", quality=90)


def cutout_rgba(image: np.ndarray, resample: Image.Resampling) -> Image.Image:
    """280x280 RGBA: the object (inverted, dark on light) is opaque, everything else fully transparent.

    The transparent pixels are black underneath, as many editors store them: only flattening onto white
    (not just dropping alpha) gives the light background the inversion expects.
    """
    big = upscaled(image, resample)
    mask = big > 0
    rgba = np.zeros(big.shape + (4,), np.uint8)
    rgba[..., :3] = np.where(mask, 255 - big, 0)[..., None]
    rgba[..., 3] = np.where(mask, 255, 0)
    return Image.fromarray(rgba, "RGBA")


def transparent_png(image: np.ndarray, resample: Image.Resampling) -> bytes:
    return encode(cutout_rgba(image, resample), "PNG")


def canvas_with(draw: Callable[[ImageDraw.ImageDraw], None], size: tuple[int, int] = (400, 300)) -> bytes:
    """A white PNG canvas (width, height) with a black shape drawn on it."""
    img = Image.new("L", size, 255)
    draw(ImageDraw.Draw(img))
    return encode(img, "PNG")


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    weights = image.astype(np.float64)
    return float((ys * weights).sum() / weights.sum()), float((xs * weights).sum() / weights.sum())


def border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, built row by row: 30000x30000 is about 110 kB."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grayscale
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


# --- real images, the shipped model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def originals(model: keras.Model, test_set: fashion_mnist.Split) -> tuple[np.ndarray, np.ndarray]:
    """The first 40 test images the shipped model is confident about, and its predictions for them."""
    probs = predict_proba(model, test_set.images[:N_AGREE])
    sure = probs.max(axis=1) >= CONFIDENT
    assert sure.sum() >= 25, f"only {sure.sum()} confident images: the model changed, revisit CONFIDENT"
    return test_set.images[:N_AGREE][sure], probs.argmax(axis=1)[sure]


@pytest.mark.parametrize("resample", [NEAREST, BICUBIC], ids=["nearest", "bicubic"])
@pytest.mark.parametrize("make_file", [white_jpeg, transparent_png], ids=["white_jpeg", "transparent_png"])
def test_uploaded_copy_of_a_test_image_gets_the_same_prediction(
    model: keras.Model,
    originals: tuple[np.ndarray, np.ndarray],
    make_file: Callable[[np.ndarray, Image.Resampling], bytes],
    resample: Image.Resampling,
) -> None:
    images, expected = originals
    prepared = [prepare_upload(make_file(image, resample)) for image in images]
    assert all(any(INVERTED in note for note in p.notes) for p in prepared)
    got = predict_proba(model, np.stack([p.image for p in prepared])).argmax(axis=1)
    differ = np.flatnonzero(got != expected).tolist()
    assert differ == [], f"{len(differ)} of {len(images)} confident images changed their prediction"


def test_the_agreement_check_catches_a_broken_pipeline(
    model: keras.Model, originals: tuple[np.ndarray, np.ndarray]
) -> None:
    """Controls: skipping the inversion, or dropping alpha instead of flattening it, changes most predictions."""
    images, expected = originals

    def not_inverted(image: np.ndarray) -> np.ndarray:
        photo = Image.open(io.BytesIO(white_jpeg(image, NEAREST))).convert("L")
        return np.asarray(photo.resize((28, 28), Image.Resampling.LANCZOS))

    def alpha_dropped(image: np.ndarray) -> np.ndarray:
        return prepare_upload(encode(cutout_rgba(image, NEAREST).convert("RGB"), "PNG")).image

    for broken in (not_inverted, alpha_dropped):
        got = predict_proba(model, np.stack([broken(image) for image in images])).argmax(axis=1)
        assert int((got == expected).sum()) <= len(images) // 2, broken.__name__


def test_output_peak_is_255_like_fashion_mnist(test_set: fashion_mnist.Split) -> None:
    assert test_set.images[:N_AGREE].reshape(N_AGREE, -1).max(axis=1).min() >= 254
    peaks = [int(prepare_upload(white_jpeg(image, BICUBIC)).image.max()) for image in test_set.images[:N_AGREE]]
    assert min(peaks) == 255, sorted(peaks)[:10]


# --- output invariants on drawn shapes ---------------------------------------------------------------------------


def test_output_is_a_centred_28x28_uint8_on_a_dark_background() -> None:
    raw = canvas_with(lambda d: d.ellipse([20, 30, 140, 200], fill=0))  # off-centre, near the top-left corner
    prepared = prepare_upload(raw)
    img = prepared.image
    assert img.shape == (28, 28) and img.dtype == np.uint8
    assert prepared.notes == [prepared.notes[0]] and INVERTED in prepared.notes[0]
    assert img.max() == 255
    assert (border(img) < 30).mean() >= 0.75  # an ellipse touches the frame only near the middle of each side
    assert (img[:3, :3] < 10).all() and (img[-3:, -3:] < 10).all()  # corners are background
    cy, cx = centre_of_mass(img)
    assert abs(cy - 13.5) < 1.5 and abs(cx - 13.5) < 1.5
    assert prepared.original.shape == (300, 400) and prepared.original.dtype == np.uint8


@pytest.mark.parametrize(("width", "height"), [(60, 240), (240, 60)], ids=["tall", "wide"])
def test_aspect_ratio_is_kept(width: int, height: int) -> None:
    raw = canvas_with(lambda d: d.rectangle([50, 30, 50 + width - 1, 30 + height - 1], fill=0), size=(400, 400))
    img = prepare_upload(raw).image
    ys, xs = np.nonzero(img > 127)
    box_h, box_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    long_side, short_side = (box_h, box_w) if height > width else (box_w, box_h)
    assert long_side >= 27  # the long side fills the frame, as in Fashion-MNIST
    assert 5 <= short_side <= 9  # 28 * 60 / 240 = 7: padded to a square, not stretched
    cy, cx = centre_of_mass(img)
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0


def test_light_object_on_dark_background_is_not_inverted() -> None:
    img = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(img).rectangle([70, 40, 130, 160], fill=200)
    prepared = prepare_upload(encode(img, "PNG"))
    assert prepared.notes == []
    assert prepared.image.max() == 255 and prepared.image[0, 0] == 0  # stretched to full contrast, not inverted


def test_jpeg_exif_orientation_is_applied() -> None:
    tall = Image.new("RGB", (100, 300), "white")
    ImageDraw.Draw(tall).rectangle([30, 20, 70, 280], fill="black")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    img = prepare_upload(encode(tall, "JPEG", quality=90, exif=exif)).image
    ys, xs = np.nonzero(img > 127)
    assert xs.max() - xs.min() > 2 * (ys.max() - ys.min())  # shown (and classified) wide, as a viewer shows it


# --- modes and formats -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drawn() -> np.ndarray:
    """A 120x160 dark boot-like shape on white (uint8 L), the source of every mode below."""
    img = Image.new("L", (120, 160), 255)
    d = ImageDraw.Draw(img)
    d.rectangle([30, 20, 70, 120], fill=40)
    d.polygon([(30, 110), (100, 110), (105, 140), (30, 140)], fill=0)
    d.line([(35, 60), (65, 60)], fill=120, width=3)
    return np.asarray(img)


def _mask(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(gray < 255, 255, 0).astype(np.uint8))


def _animated_gif(gray: np.ndarray) -> bytes:
    frames = [Image.fromarray(f).convert("P") for f in (gray, np.full_like(gray, 255), np.fliplr(gray))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


# name -> (builder, mode Pillow opens it as, keywords of the notes in order, max mean abs difference from PNG L)
MODES: dict[str, tuple[Callable[[np.ndarray], bytes], str, list[str], float]] = {
    "L": (lambda g: encode(Image.fromarray(g), "PNG"), "L", [INVERTED], 0.0),
    "RGB": (lambda g: encode(Image.fromarray(g).convert("RGB"), "PNG"), "RGB", [INVERTED], 0.0),
    "RGBA": (
        lambda g: encode(Image.merge("RGBA", [Image.fromarray(g)] * 3 + [_mask(g)]), "PNG"),
        "RGBA",
        [INVERTED],
        0.0,
    ),
    "LA": (lambda g: encode(Image.merge("LA", [Image.fromarray(g), _mask(g)]), "PNG"), "LA", [INVERTED], 0.0),
    "P_gif": (lambda g: encode(Image.fromarray(g).convert("P"), "GIF"), "P", ["Palette image", INVERTED], 0.0),
    "CMYK_jpeg": (
        lambda g: encode(Image.fromarray(g).convert("RGB").convert("CMYK"), "JPEG", quality=95),
        "CMYK",
        ["CMYK image: converted to RGB", INVERTED],
        2.0,
    ),
    "I;16_png": (
        lambda g: encode(Image.fromarray(g.astype(np.uint16) * 257), "PNG"),
        "I;16",
        ["High bit-depth image (I;16)", INVERTED],
        0.0,
    ),
    "animated_gif": (
        _animated_gif,
        "P",
        ["Animated image with 3 frames: using the first frame", "Palette image", INVERTED],
        0.0,
    ),
    "WebP": (lambda g: encode(Image.fromarray(g).convert("RGB"), "WEBP", quality=90), "RGB", [INVERTED], 2.0),
    "BMP": (lambda g: encode(Image.fromarray(g).convert("RGB"), "BMP"), "RGB", [INVERTED], 0.0),
}


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_gives_the_same_28x28(drawn: np.ndarray, name: str) -> None:
    build, mode, note_keywords, tolerance = MODES[name]
    raw = build(drawn)
    assert Image.open(io.BytesIO(raw)).mode == mode  # the test made what it says
    reference = prepare_upload(encode(Image.fromarray(drawn), "PNG")).image
    prepared = prepare_upload(raw)
    assert prepared.image.shape == (28, 28) and prepared.image.dtype == np.uint8
    assert prepared.image.max() == 255 and (border(prepared.image) < 30).mean() >= 0.5
    assert len(prepared.notes) == len(note_keywords), prepared.notes
    for note, keyword in zip(prepared.notes, note_keywords, strict=True):
        assert keyword in note
    assert np.abs(prepared.image.astype(int) - reference).mean() <= tolerance


def test_animated_gif_uses_the_first_frame(drawn: np.ndarray) -> None:
    first = prepare_upload(encode(Image.fromarray(drawn).convert("P"), "GIF")).image
    last = prepare_upload(encode(Image.fromarray(np.fliplr(drawn)).convert("P"), "GIF")).image
    animated = prepare_upload(_animated_gif(drawn)).image
    np.testing.assert_array_equal(animated, first)
    assert np.abs(animated.astype(int) - last).mean() > 10


def test_sixteen_bit_uses_its_full_range() -> None:
    """A faint 16-bit object (values 1000..3000 of 65535) is stretched, not crushed to one or two 8-bit levels."""
    arr = np.full((100, 100), 3000, np.uint16)
    arr[20:80, 35:65] = 1000
    arr[40:60, 45:55] = 2000
    raw = encode(Image.fromarray(arr), "PNG")
    assert Image.open(io.BytesIO(raw)).mode == "I;16"
    img = prepare_upload(raw).image
    assert img.max() == 255 and img[0, 0] == 0
    assert 100 < img[14, 14] < 155  # the middle block: half way between object and background


# --- bad uploads -------------------------------------------------------------------------------------------------


def _cut_in_half(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


@pytest.fixture(scope="module")
def noisy() -> Image.Image:
    return Image.fromarray(np.random.default_rng(3).integers(0, 256, (200, 200, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda noisy: b"", ["empty", "0 bytes"]),
        (lambda noisy: np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes(), ["not an image"]),
        (lambda noisy: b"Hello, this is a shopping list, not a picture.\n" * 20, ["not an image"]),
        (lambda noisy: _cut_in_half(encode(noisy, "PNG")), ["damaged or truncated"]),
        (lambda noisy: _cut_in_half(encode(noisy, "JPEG", quality=90)), ["damaged or truncated"]),
        (lambda noisy: encode(Image.new("L", (100, 100), 255), "PNG"), ["blank"]),
        (lambda noisy: encode(Image.new("RGB", (100, 100), "white"), "JPEG", quality=90), ["blank"]),
        (lambda noisy: encode(Image.new("L", (100, 100), 128), "PNG"), ["blank"]),
        (lambda noisy: encode(Image.new("RGBA", (100, 100), (0, 0, 0, 0)), "PNG"), ["blank"]),
    ],
    ids=[
        "zero_bytes",
        "random_bytes",
        "plain_text",
        "truncated_png",
        "truncated_jpeg",
        "all_white",
        "all_white_jpeg",
        "all_grey",
        "fully_transparent",
    ],
)
def test_bad_upload_is_a_clear_error(
    noisy: Image.Image, make: Callable[[Image.Image], bytes], words: list[str]
) -> None:
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # nobody switched Pillow to silently accepting truncated files
    with pytest.raises(UploadError) as caught:
        prepare_upload(make(noisy))
    message = str(caught.value)
    for word in words:
        assert word in message
    assert message.endswith(".") and "\n" not in message  # one sentence


@pytest.mark.parametrize(
    ("width", "height", "words"),
    [(30000, 30000, ["too large", "900000000 pixels"]), (6000, 6000, ["6000x6000", "refused"])],
    ids=["30000x30000_pillow_bomb_limit", "6000x6000_over_max_pixels"],
)
def test_decompression_bomb_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch, width: int, height: int, words: list[str]
) -> None:
    raw = bilevel_png(width, height)
    assert len(raw) < 200_000  # tiny on disk, gigantic decoded
    assert struct.unpack(">II", raw[16:24]) == (width, height)  # what the IHDR claims
    decoded = []
    original_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or original_load(self))
    start = time.perf_counter()
    with pytest.raises(UploadError) as caught:
        prepare_upload(raw)
    assert time.perf_counter() - start < 1.0
    assert decoded == []
    for word in words:
        assert word in str(caught.value)
    prepare_upload(canvas_with(lambda d: d.ellipse([20, 30, 140, 200], fill=0)))
    assert decoded and set(decoded) == {(400, 300)}  # the spy does see decoding when it happens


def test_small_bilevel_png_helper_decodes() -> None:
    """The bomb builder writes a valid PNG: a small one opens and is (rightly) blank."""
    raw = bilevel_png(30, 20)
    with Image.open(io.BytesIO(raw)) as img:
        img.load()
        assert (img.mode, img.size) == ("1", (30, 20))
    with pytest.raises(UploadError, match="blank"):
        prepare_upload(raw)


def test_file_over_the_size_limit_is_refused_before_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, (700, 700, 3), dtype=np.uint8)
    raw = encode(Image.fromarray(pixels), "PNG")  # random pixels do not compress: about 1.4 MB
    assert 1.2 * 2**20 < len(raw) < 2 * 2**20
    prepare_upload(raw)  # fine under the real 10 MB limit
    monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 2**20)
    opened = []
    monkeypatch.setattr(upload.Image, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(UploadError) as caught:
        prepare_upload(raw)
    assert opened == []
    message = str(caught.value)
    assert f"{len(raw) / 2**20:.1f} MB" in message and "limit is 1 MB" in message


def test_nearly_blank_page_is_blank() -> None:
    noise = np.random.default_rng(0).integers(-2, 3, (200, 200))
    with pytest.raises(UploadError, match="blank"):
        prepare_upload(encode(Image.fromarray((250 + noise).astype(np.uint8)), "PNG"))
