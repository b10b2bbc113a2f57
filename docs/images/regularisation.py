"""Draw docs/images/regularisation.png: synthesised inputs of the shipped default model under each regularisation.

Rows: none, jitter, blur, total variation, all three (fmnist_core.analysis.synthesis.REGULARISATIONS); columns: six channels of
conv2d_1 (the notebook's second conv) and three classes. Run from the repository's root:

    python docs/images/regularisation.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fmnist_core.analysis.synthesis import REGULARISATIONS, Target, synthesise  # noqa: E402
from fmnist_core.data.fashion_mnist import CLASS_NAMES  # noqa: E402
from fmnist_core.runs import paths, store  # noqa: E402

CHANNELS = (0, 5, 12, 21, 33, 47)
CLASSES = (1, 7, 9)  # Trouser, Sneaker, Ankle boot
SCALE, GAP, LABEL_W, HEAD_H = 3, 4, 110, 30
OUT = Path(__file__).resolve().parent / "regularisation.png"


def main() -> None:
    model = store.load_model(paths.DEFAULT_RUN_ID)
    targets = [Target("conv2d_1", c) for c in CHANNELS] + [Target(None, c) for c in CLASSES]
    heads = [f"ch {c}" for c in CHANNELS] + [CLASS_NAMES[c] for c in CLASSES]
    tile = 28 * SCALE
    width = LABEL_W + len(targets) * (tile + GAP)
    height = HEAD_H + len(REGULARISATIONS) * (tile + GAP)
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    for j, head in enumerate(heads):
        draw.text((LABEL_W + j * (tile + GAP) + 2, 8), head[:13], fill=0)
    for i, name in enumerate(REGULARISATIONS):
        top = HEAD_H + i * (tile + GAP)
        draw.text((4, top + tile // 2 - 6), name, fill=0)
        for j, target in enumerate(targets):
            image = synthesise(model, target, seed=0, regularisation=name).image
            pixels = np.kron(np.rint(image * 255).astype(np.uint8), np.ones((SCALE, SCALE), np.uint8))
            sheet.paste(Image.fromarray(pixels), (LABEL_W + j * (tile + GAP), top))
    sheet.save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
