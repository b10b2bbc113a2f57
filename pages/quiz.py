"""Predict the model: guess what the model will answer for a test image, then see its answer, probabilities and why.

The model's answer is drawn only after a guess (REVEALED_KEY names the question it was revealed for). The score is
fmnist_core.analysis.quiz.Score: per browser session without sign-in; with sign-in the person's own, kept on disk (the Class
page shows it).
"""

import streamlit as st

from fmnist_core.analysis import quiz
from fmnist_core.analysis.quiz import Score, draw
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.pictures import pixels
from ui.figures.probabilities import probability_bars
from ui.frame import page_frame
from ui.loaders import model_or_message, test_probabilities, test_set_or_message
from ui.sections.shared.why import why_panel
from ui.session import active_run
from ui.signin import acting

page_frame()

SCORE_KEY = "quiz_score"
POSITION_KEY = "quiz_position"
REVEALED_KEY = "quiz_revealed"  # (run id, position) of the question whose answer is shown
GUESS_KEY = "quiz_guess"
QUESTIONS = 200

st.title("Predict the model")
st.caption(
    "Which class will the model answer for this image? Not the true class: the model's answer. Images come in turn "
    "from three kinds: the model confident and right, the model uncertain, the model confidently wrong."
)
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

state = st.session_state
actor = acting()
per_person = actor.signed_in  # with sign-in the score is the person's, across sessions
probs = test_probabilities(info.id, info.created)
questions = draw(probs, test.labels, seed=0, count=QUESTIONS)
position = int(state.get(POSITION_KEY, 0)) % len(questions)
item = questions[position]
score: Score = quiz.score_of(actor.id) if per_person else state.get(SCORE_KEY, Score())
revealed = state.get(REVEALED_KEY) == (info.id, position)
answer, truth = int(probs[item.index].argmax()), int(test.labels[item.index])


def reveal() -> None:
    """Button callback: score the guess once, then show the answer for this question."""
    guess = state.get(GUESS_KEY)
    if guess is None or state.get(REVEALED_KEY) == (info.id, position):
        return
    if per_person:
        quiz.record_round(actor.id, int(guess), answer, truth)
    else:
        state[SCORE_KEY] = state.get(SCORE_KEY, Score()).record(int(guess), answer, truth)
    state[REVEALED_KEY] = (info.id, position)


def next_question() -> None:
    state[POSITION_KEY] = position + 1
    state.pop(GUESS_KEY, None)


row = st.container(horizontal=True, gap="large")
row.metric("Your predictions of the model", "—" if score.rate is None else f"{score.rate:.0%}", width="content")
row.metric(
    "“Always guess the true label”",
    "—" if score.true_label_rate is None else f"{score.true_label_rate:.0%}",
    width="content",
    help="The score of someone who always answers the true class: the model's accuracy on the images shown so far",
)
row.metric("Rounds", f"{score.rounds}", width="content")

layout = st.container(horizontal=True, gap="large")
with layout.container(width=260):
    st.image(pixels(test.images[item.index] / 255.0, 8), width=224, output_format="PNG")
    st.caption(f"Test image #{item.index} (question {position + 1})")
with layout.container(width=420):
    st.selectbox(
        "What will the model answer?",
        list(range(len(CLASS_NAMES))),
        index=None,
        format_func=lambda c: CLASS_NAMES[c],
        key=GUESS_KEY,
        disabled=revealed,
        placeholder="Choose a class",
    )
    guess = state.get(GUESS_KEY)
    if not revealed:
        st.button("Reveal the model's answer", type="primary", on_click=reveal, disabled=guess is None)
    else:
        verdict = "You predicted the model." if guess == answer else f"You guessed {CLASS_NAMES[int(guess)]}."
        (st.success if guess == answer else st.error)(
            f"The model answered **{CLASS_NAMES[answer]}** ({probs[item.index, answer]:.1%}). {verdict}"
        )
        st.markdown(f"True label: **{CLASS_NAMES[truth]}** · this image was drawn as *{item.kind}*")
        st.button("Next image", type="primary", on_click=next_question)

if revealed:
    st.plotly_chart(probability_bars(probs[item.index], CLASS_NAMES, actual=truth), width="stretch", key="quiz_probs")
    why_panel(info, test.images[item.index], answer, key="quiz_why")
