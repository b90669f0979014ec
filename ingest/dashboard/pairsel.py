"""The dashboard's pair selector (docs/pairs.md): ``?pair=NAME`` on the overview, jobs and
dead-letters pages shows that integration pair only, and is remembered in the session until
another pair is chosen or ``?pair=`` (all pairs). With one pair (a single shop) there is
nothing to choose and no selector is shown.

A name that is not a pair is said on the page and changes nothing (the pages show every
pair, or the pair chosen before); the session holds a pair name only, never a setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request, session

from ingest.app import current_settings

SESSION_PAIR = "pair"


@dataclass(frozen=True)
class Selection:
    names: tuple[str, ...]  # every pair, default first (disabled ones too: they have jobs)
    current: str | None     # None: every pair
    error: str | None = None

    @property
    def shown(self) -> bool:
        return len(self.names) > 1


def select_pair() -> Selection:
    """The pair this page shows: ``?pair=`` if given (and remembered), else the session's."""
    from services.pairs import known

    names = tuple(known(current_settings()))
    error = None
    if "pair" in request.args:
        wanted = request.args["pair"].strip()
        if not wanted:
            session.pop(SESSION_PAIR, None)
        elif wanted in names:
            session[SESSION_PAIR] = wanted
        else:
            error = f"No pair named {wanted[:40]}; pairs: {', '.join(names)}."
    current = session.get(SESSION_PAIR)
    if current is not None and current not in names:  # removed since it was chosen
        session.pop(SESSION_PAIR, None)
        current = None
    chosen = Selection(names, current, error)
    g.kfsync_pair_selection = chosen
    return chosen
