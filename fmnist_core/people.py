"""Who acts, and what they may do: identities, teachers, which runs a person sees and may delete, fair shares.

No Streamlit here: the web side reads the identity from `st.user` and passes an `Actor` down as a plain value;
every rule is decided here, so a page that forgets a check is still refused by the store or the training queue.

Three kinds of actor:
- `LOCAL`: the app without sign-in, one person, everything allowed as before classes existed (no limits).
- `ADMIN`: the command line, the machine's administrator: may act for anyone (`administrator("ada@x")`).
- a signed-in person (`person("ada@x")`): sees, deletes and trains by the rules of FMNIST_RUN_VISIBILITY,
  FMNIST_TEACHERS, FMNIST_TRAININGS_PER_USER and FMNIST_RUNS_PER_USER.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fmnist_core import settings

LOCAL_ID = "local"


class NotAllowed(PermissionError):
    """An action this actor may not take; the message is one sentence for the person, in plain words (the
    settings behind a rule are named in the teacher's docs, docs/deploying.md, never to a student)."""


class LimitReached(NotAllowed):
    """A fair-share limit is reached; the message says the limit and how to free a place."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: an identity and the kind of actor (see the module's docstring)."""

    id: str
    kind: Literal["person", "local", "admin"] = "person"

    @property
    def signed_in(self) -> bool:
        """A signed-in person: the per-person rules apply."""
        return self.kind == "person"

    @property
    def unrestricted(self) -> bool:
        """No sign-in (one person) or the command line: sees and may delete every saved run, no limits."""
        return self.kind != "person"

    @property
    def teacher(self) -> bool:
        return self.kind == "person" and self.id in settings.teachers()


LOCAL = Actor(LOCAL_ID, "local")
ADMIN = Actor(LOCAL_ID, "admin")


def person(identity: str) -> Actor:
    """A signed-in person; ValueError for an empty identity (a provider that gave neither email nor sub)."""
    identity = identity.strip()
    if not identity:
        raise ValueError("a signed-in person needs an identity")
    return Actor(identity, "person")


def administrator(owner: str | None = None) -> Actor:
    """The command line acting for `owner` (recorded as the owner of what it makes), else for `local`."""
    return Actor((owner or LOCAL_ID).strip() or LOCAL_ID, "admin")


def identity_from_claims(claims: Mapping[str, Any], now: float | None = None) -> str | None:
    """The identity in an OpenID Connect user's claims: `email`, else `sub`; None when signed out or expired.

    Streamlit does not check the identity token's expiry, so an `exp` in the past counts as signed out here.
    """
    if not claims.get("is_logged_in"):
        return None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp <= (time.time() if now is None else now):
        return None
    for key in ("email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# --- runs: who sees and who deletes ---------------------------------------------------------------------
def short_name(identity: str | None) -> str:
    """How a run's owner is named in a short label: an email's part before the @ (at most 16 characters), or
    "nobody" for runs saved before runs had owners."""
    if not identity:
        return "nobody"
    name = identity.split("@", 1)[0] or identity
    return name if len(name) <= 16 else name[:15] + "…"


def may_see(actor: Actor, owner: str | None, shipped: bool = False) -> bool:
    """Shipped models: everyone. Saved runs: everyone in `class` visibility; in `private` the owner and teachers."""
    if shipped or actor.unrestricted or actor.teacher:
        return True
    return settings.run_visibility() == "class" or owner == actor.id


def check_delete(actor: Actor, run_id: str, owner: str | None, doing: str = "delete") -> None:
    """NotAllowed unless the actor owns the run, teaches, or is unrestricted (no sign-in, the command line); the
    same rule covers renaming (`doing="rename"`)."""
    if actor.unrestricted or actor.teacher or (owner is not None and owner == actor.id):
        return
    whose = "nobody (it was saved before runs had owners)" if owner is None else owner
    raise NotAllowed(f"Run {run_id} belongs to {whose}; only its owner or a teacher may {doing} it.")


def may_delete(actor: Actor, owner: str | None) -> bool:
    """check_delete as a yes or no (for deciding which delete controls to draw)."""
    try:
        check_delete(actor, "", owner)
    except NotAllowed:
        return False
    return True


def check_class_view(actor: Actor) -> None:
    """The Class page is for teachers (and the unrestricted: one person without sign-in has no class)."""
    if not (actor.teacher or actor.kind == "admin"):
        raise NotAllowed(
            "The Class page is for teachers; if you teach this class, ask the person who runs this app to add you."
        )


# --- fair shares ------------------------------------------------------------------------------------------
def check_new_training(actor: Actor, trainings: int, runs: int) -> None:
    """Before a training is queued: `trainings` of this person running or queued, `runs` stored (LimitReached)."""
    if not actor.signed_in:
        return
    allowed = settings.trainings_per_user()
    if trainings >= allowed:
        many, which = ("1 training", "it") if allowed == 1 else (f"{allowed} trainings", "one")
        raise LimitReached(
            f"You may have {many} running or waiting at a time; "
            f"wait for {which} to finish or stop {which} to start another."
        )
    check_new_run(actor, runs + trainings, what="train")


def check_new_run(actor: Actor, runs: int, what: str = "import") -> None:
    """Before a run is added (trained or imported): `runs` this person has stored or coming (LimitReached)."""
    if not actor.signed_in:
        return
    allowed = settings.runs_per_user()
    if runs >= allowed:
        surplus = runs - allowed + 1
        raise LimitReached(
            f"You have {runs} runs and each person may keep {allowed}; "
            f"delete {'one' if surplus == 1 else surplus} of yours on the Model page to {what} another."
        )


def owned_by(owners: Iterable[str | None], actor: Actor) -> int:
    """How many of these owners are the actor."""
    return sum(1 for owner in owners if owner == actor.id)
