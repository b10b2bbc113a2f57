"""Sign-in: who is using this session, from `st.user` only (never the address, a form field or a cookie of ours).

With an `[auth]` section in Streamlit's secrets, every page asks a signed-out visitor to log in (st.login) and shows
nothing else; the identity is the OpenID Connect `email` claim, else `sub`, and an expired identity token counts as
signed out (fmnist_core.people.identity_from_claims). Without `[auth]`, the actor is people.LOCAL: one person, the
app as it was. Pages pass `acting()` down to fmnist_core, which decides every permission and limit.
"""

from __future__ import annotations

import streamlit as st

from fmnist_core import people

IDENTITY_KEY = "_signed_in_as"  # the identity this session's personal state belongs to
LOG_OUT_HELP = (
    "Signs you out here and at your sign-in provider. If the provider asks you to confirm (for example with an "
    '"End session" button), confirm: it sends you back to this app\'s login screen.'
)


def auth_configured() -> bool:
    """True when Streamlit's secrets (any of its locations, --secrets.files included) hold an [auth] section."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # noqa: BLE001 - an unreadable secrets file means no sign-in, as Streamlit itself treats it
        return False


def _claims() -> dict:
    try:
        return dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no script context (not in a Streamlit run): nobody is signed in
        return {}


def current_actor() -> people.Actor | None:
    """The acting person: people.LOCAL without sign-in; None when sign-in is on and nobody (valid) is signed in."""
    if not auth_configured():
        return people.LOCAL
    identity = people.identity_from_claims(_claims())
    return people.person(identity) if identity else None


def expired() -> bool:
    """Signed in once, but the identity token's time is over."""
    claims = _claims()
    return bool(claims.get("is_logged_in")) and people.identity_from_claims(claims) is None


def acting() -> people.Actor:
    """The actor for this run of a page; stops the page when nobody is signed in (the frame has shown the login)."""
    actor = current_actor()
    if actor is None:
        st.stop()
    return actor


def keep_state_personal(actor: people.Actor) -> None:
    """A session's state belongs to one identity: if another signs in within it, start from empty state."""
    previous = st.session_state.get(IDENTITY_KEY)
    if previous is not None and previous != actor.id:
        st.session_state.clear()
    st.session_state[IDENTITY_KEY] = actor.id


def login_screen() -> None:
    """What a signed-out visitor sees, and nothing else: no runs, no images, no model."""
    st.title("Fashion-MNIST CNN dashboard")
    if expired():
        st.warning("Your sign-in has expired. Log in again to go on.")
    st.markdown(
        "This dashboard is shared by a class. **Log in** to train networks of your own and to look inside them; "
        "your runs are kept under your name."
    )
    st.button("Log in", type="primary", icon=":material/login:", on_click=st.login, key="login")


def sidebar_user(actor: people.Actor) -> None:
    """Who is signed in and a Log out button (only with sign-in: without it there is nobody to name)."""
    if not actor.signed_in:
        return
    role = " (teacher)" if actor.teacher else ""
    st.caption(f"Signed in as `{actor.id}`{role}")  # a code span: plain Markdown makes an address a mailto link
    # st.logout ends the sign-in at the provider too (its end_session_endpoint), with this app's redirect_uri as the
    # address to return to; a provider may first ask to confirm on a page of its own, which the app cannot skip.
    st.button("Log out", icon=":material/logout:", on_click=st.logout, key="logout", help=LOG_OUT_HELP)
