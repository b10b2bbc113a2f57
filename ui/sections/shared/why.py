"""The "why" panel (Test images, both tabs, and Predict the model): four attribution methods side by side, whether
they agree, the randomisation test and the smallest change that flips the answer. Reads widgets, calls
fmnist_core.explain, draws with ui.figures.explanations; the arithmetic lives in fmnist_core."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.explain.attributions import METHODS
from fmnist_core.explain.flip import MAX_LEVELS
from fmnist_core.explain.occlusion import DEFAULT_PATCH, DEFAULT_STRIDE, PATCH_RANGE
from ui.figures.explanations import (
    OVERLAY_PX,
    agreement_figure,
    attribution_html,
    attribution_picture,
    before_after_figure,
    change_figure,
    randomisation_curve_figure,
    randomisation_grid_figure,
    small_image_figure,
)
from ui.loaders import cached_model

FLIP_PX = 240  # each of the three flip images
ANY_CLASS = -1
READING = (
    "How to read it: an explanation that does not change when the model is destroyed is not explaining the model. "
    "A map that stays close to 1 while layer after layer is replaced by random weights shows the image, not what "
    "the model learned."
)


def image_digest(image: np.ndarray) -> str:
    """A short content hash: cache key for explanations, and what makes a widget start afresh per image."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


@st.cache_data(max_entries=128, show_spinner=False)
def _attributions(
    run_id: str, created: str | None, image_digest: str, image: np.ndarray, class_index: int, patch: int, stride: int
) -> dict[str, Any]:
    """Every method this model allows, for one image and class (Grad-CAM is absent without a conv layer)."""
    from fmnist_core.explain.attributions import attribute_all

    return attribute_all(cached_model(run_id, created), image, class_index, patch=patch, stride=stride)


def _title(method: str, cls: int, predicted: int) -> list[str]:
    # Two-line titles: the panel can be narrow, and the class and whether it is the prediction must stay readable.
    which = "(the prediction)" if cls == predicted else "(not the prediction)"
    return [f"{METHODS[method].title} · {CLASS_NAMES[cls]}", which]


def _measures(method: str, result: Any) -> str:
    """The one line under each map: what it measures, and for integrated gradients the completeness check."""
    m = METHODS[method]
    if method == "gradcam":
        return (
            f"Grad-CAM: where the channels of `{result.layer}` (the last conv block) that raise the score are active."
        )
    line = f"{m.title}: {m.measures}."
    if method == "integrated-gradients":
        total, difference = result.completeness
        gap = abs(total - difference) / max(abs(difference), 1e-12)
        line += (
            f" Completeness: the attributions add up to {total:.3f}; p(image) − p(black image) = {difference:.3f}"
            f" ({gap:.1%} apart). They should be equal; they come close but not exactly, because the method adds up"
            " 64 samples taken on the way from the black image to this one."
        )
    return line


def why_panel(info: Any, image: np.ndarray, predicted: int, key: str) -> None:
    """Every method's map for the predicted class or any chosen one, side by side, with their agreement; then the
    randomisation test and the smallest flip. Behind a switch that stays on: the four methods cost most of a
    page's first visit with a new model, and a learner browsing images does not always want them.

    Widget keys carry the model and the image, so a new image or model starts again from its own prediction.
    """
    from fmnist_core.explain.attributions import agreement
    from fmnist_core.explain.gradcam import heat_on_object

    st.subheader("Why the model decided", divider="gray")
    if not st.toggle(
        "Explain this answer",
        key=f"{key}_on",
        help="Four ways of showing which pixels of the image the answer came from, whether they agree, and whether "
        "to trust them. It stays on for the next images you pick.",
    ):
        st.caption(
            "Turn on to see which parts of the image led the model to its answer: the computer works that out "
            "four ways, in about a second."
        )
        return
    digest = image_digest(image)
    scope = f"{key}_{info.id}_{digest}"
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        cls = int(
            st.selectbox(
                "Explain class",
                list(range(len(CLASS_NAMES))),
                index=predicted,
                format_func=lambda c: f"{CLASS_NAMES[c]}" + (" (predicted)" if c == predicted else ""),
                key=scope,
                width=240,
            )
        )
        patch = int(
            st.slider(
                "Occlusion patch (px)",
                *PATCH_RANGE,
                value=DEFAULT_PATCH,
                key=f"{key}_patch",
                width=220,
                help="Occlusion hides one black square of the image at a time and watches how much the probability "
                "drops. This is the square's side, in pixels.",
            )
        )
        stride = int(
            st.slider(
                "Occlusion stride (px)",
                1,
                patch,
                value=min(DEFAULT_STRIDE, patch),
                key=f"{key}_stride",
                width=220,
                help="How far the black square moves between two tries, in pixels: smaller is finer and slower.",
            )
        )
    with st.spinner("Computing four explanations…"):
        results = _attributions(info.id, info.created, digest, image, cls, patch, stride)
    explaining = f"Explaining **{CLASS_NAMES[cls]}**" + (
        "" if cls == predicted else f"; the model predicted **{CLASS_NAMES[predicted]}**"
    )
    st.caption(
        f"{explaining}. p is the probability the model gives the class; its score is the number the model computes "
        "for the class before turning all ten scores into probabilities. Grad-CAM and saliency are scaled to their "
        "own maximum (bright = more); integrated gradients and occlusion are in units of probability: red raises "
        "it, blue lowers it."
    )
    # Side by side where there is room, wrapping where there is not: each image stays OVERLAY_PX wide.
    row = st.container(horizontal=True, gap="medium")
    for method, result in results.items():
        cell = row.container(width=OVERLAY_PX)
        signed = METHODS[method].signed
        unit = ("share of p" if method == "integrated-gradients" else "drop in p") if signed else "relevance"
        picture, top = attribution_picture(image, result.map, signed)
        alt = f"{METHODS[method].title} map for {CLASS_NAMES[cls]} over the image"
        cell.html(attribution_html(picture, _title(method, cls, predicted), alt, signed, top, unit))
        cell.caption(_measures(method, result))
        if method == "gradcam":
            share = heat_on_object(image, result.map)
            if share is None:
                cell.caption("Grad-CAM is blank for this class: no region of the last conv block raises its score.")
            elif share < 0.5:
                cell.caption(
                    f":orange[:material/warning: Only {share:.0%} of the Grad-CAM heat lies on the garment; most "
                    "lies on the background, so this map says little about why.]"
                )
            else:
                cell.caption(f"{share:.0%} of the Grad-CAM heat lies on the garment.")
    if "gradcam" not in results:
        st.info("Grad-CAM needs a conv layer, and this model has none (it sees the image as a flat list of pixels).")
    names = [METHODS[m].title for m in results]
    matrix = agreement({m: r.map for m, r in results.items()})
    with st.container(horizontal=True, gap="medium"):
        st.plotly_chart(agreement_figure(matrix, names), width=460, key=f"{key}_agree")
        st.caption(
            "Do they agree? For every pair of maps, how alike they order the pixels from most to least important, "
            "ignoring red or blue (Spearman's rank correlation): 1 means the same order, 0 that the orders are "
            "unrelated, below 0 opposite orders. Methods that disagree cannot all be right about this image.",
            width=300,
        )
    _randomisation_section(info, image, cls, patch, stride, key, scope)
    _flip_section(info, image, predicted, key, scope)


def _randomisation_section(
    info: Any, image: np.ndarray, cls: int, patch: int, stride: int, key: str, scope: str
) -> None:
    """The button, a progress bar while it runs, then the grid (method x layers randomised) and the curves."""
    from fmnist_core.explain.sanity import randomisation_test

    st.markdown("**Can you trust them? The randomisation test**")
    st.caption(
        "On a copy of the model (nothing is saved), the weights (the numbers each layer learned) are replaced by "
        "random ones, one layer after another from the output back to the input, and every map is computed again "
        "after each layer."
    )
    store_key = f"{key}_sanity"
    wanted = (scope, cls, patch, stride)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        seed = int(st.number_input("Seed", min_value=0, max_value=9999, value=0, key=f"{key}_seed", width=120))
        pressed = st.button("Randomise the model", key=f"{key}_randomise")
    if pressed:
        bar = st.progress(0.0, text="Randomising…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"{done - 1} of {total - 1} layers randomised")

        result = randomisation_test(
            cached_model(info.id, info.created), image, cls, seed=seed, progress=progress, patch=patch, stride=stride
        )
        bar.empty()
        st.session_state[store_key] = (wanted, seed, result)
    kept = st.session_state.get(store_key)
    if kept is None or kept[0] != wanted:
        return
    _, seed, result = kept
    labels = ["trained"] + [f"+{step.randomised[-1]}" for step in result.steps[1:]]
    titles = [METHODS[m].title for m in result.methods]
    maps = [[step.maps[m] for step in result.steps] for m in result.methods]
    st.plotly_chart(randomisation_grid_figure(maps, titles, labels), width="stretch", key=f"{key}_sanity_grid")
    curves = {m: [step.spearman[m] for step in result.steps] for m in result.methods}
    curve = randomisation_curve_figure(curves, labels, {m: METHODS[m].title for m in result.methods})
    st.plotly_chart(curve, width="stretch", key=f"{key}_sanity_curve")
    predicted_after = CLASS_NAMES[result.steps[-1].predicted]
    st.caption(
        f"{READING} Columns left to right: one more layer randomised (seed {seed}); every tile is |map| scaled to "
        f"its own maximum. With every layer random the model predicts {predicted_after}."
    )


def _flip_section(info: Any, image: np.ndarray, predicted: int, key: str, scope: str) -> None:
    """The target box and button; then the image, the change (amplified), the changed image and the probabilities."""
    from fmnist_core.explain.flip import smallest_flip

    st.markdown("**The smallest change that flips the answer**")
    st.caption(
        "The computer nudges every pixel a little, each in the direction that most pushes the model away from its "
        "answer (or towards the target class), but no pixel by more than a limit called ε (epsilon). ε is counted "
        "in grey levels: 1/255 is one step of brightness out of 255. It finds the smallest ε that changes the "
        f"answer, trying up to {MAX_LEVELS}/255 ≈ 0.3."
    )
    with st.expander("What is this?"):
        st.markdown(
            "Research papers call such a change an *adversarial example*: a change too small for people to "
            "notice that still fools the model. This one is made by *projected gradient descent* with an "
            "*L∞ limit* (no single pixel changes by more than ε), and the smallest ε is found by *bisection* "
            "(halving the range of limits left at every try)."
        )
    options = [ANY_CLASS] + [c for c in range(len(CLASS_NAMES)) if c != predicted]
    with st.container(horizontal=True, vertical_alignment="bottom"):
        target = int(
            st.selectbox(
                "Target class",
                options,
                format_func=lambda c: "Any other class" if c == ANY_CLASS else CLASS_NAMES[c],
                key=f"{scope}_target",
                width=240,
            )
        )
        pressed = st.button("Find the smallest change", key=f"{key}_flip")
    store_key = f"{key}_flip_result"
    wanted = (scope, target)
    if pressed:
        with st.spinner("Trying several limits ε at once…"):
            found = smallest_flip(cached_model(info.id, info.created), image, None if target == ANY_CLASS else target)
        st.session_state[store_key] = (wanted, found)
    kept = st.session_state.get(store_key)
    if kept is None or kept[0] != wanted:
        return
    found = kept[1]
    goal = "" if target == ANY_CLASS else f" to {CLASS_NAMES[target]}"
    if found.epsilon is None:
        st.warning(
            f"No nudge of up to {MAX_LEVELS} grey levels per pixel (ε = {MAX_LEVELS}/255 ≈ 0.3) changes the answer "
            f"from {CLASS_NAMES[predicted]}{goal}: for this image the answer holds against this kind of change."
        )
        return
    row = st.container(horizontal=True, gap="medium")
    row.plotly_chart(
        small_image_figure(found.original, f"The image<br>{CLASS_NAMES[found.predicted_before]}", FLIP_PX),
        width=FLIP_PX,
        key=f"{key}_flip_before",
    )
    amplified = 0.5 / found.epsilon  # +-epsilon fills the colour scale that 0..1 would fill
    title = f"The change, amplified ×{amplified:.0f}<br>ε = {found.levels}/255 = {found.epsilon:.3f}"
    row.plotly_chart(
        change_figure(found.change, found.epsilon, title, FLIP_PX),
        width=FLIP_PX,
        key=f"{key}_flip_change",
    )
    row.plotly_chart(
        small_image_figure(found.image, f"Changed image<br>{CLASS_NAMES[found.predicted_after]}", FLIP_PX),
        width=FLIP_PX,
        key=f"{key}_flip_after",
    )
    st.markdown(
        f"Every pixel moved by at most **{found.levels}/255 = {found.epsilon:.3f}**, and the model now says "
        f"**{CLASS_NAMES[found.predicted_after]}** ({found.probabilities_after[found.predicted_after]:.1%}) instead "
        f"of **{CLASS_NAMES[found.predicted_before]}**. One grey level less did not flip it."
    )
    st.plotly_chart(
        before_after_figure(found.probabilities_before, found.probabilities_after, CLASS_NAMES),
        width="stretch",
        key=f"{key}_flip_probs",
    )
