"""The HTML dashboard under ``/``: login (a named user, or the ops token), then the overview,
jobs, dead letters and review items, with requeue and discard forms, and the payment
reconciliation queue.

Server-rendered Jinja pages, no front-end build. Every form carries a CSRF token
(Flask-WTF's ``CSRFProtect``, enabled in the app factory). Pages show job data, never a
setting: no token, password or secret is ever put into a template. The session cookie holds
a random id (and the pair chosen in the pair selector, a name: ``ingest.dashboard.pairsel``);
the session itself is a row in ``web_sessions`` (``store.accounts``), so
logging out, disabling the user or rotating the ops token ends it for every copy of the cookie.
Viewers read; requeue and discard need an operator; the mapping studio's forms an admin.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ingest import auth
from ingest.app import SESSION_HOURS, current_settings, current_throttle
from ingest.throttle import LOGIN_PER_ACCOUNT, LOGIN_PER_CLIENT
from store.accounts import (
    Principal,
    end_session,
    open_session,
    session_principal,
    user_exists,
)

log = logging.getLogger(__name__)
bp = Blueprint("dashboard", __name__, template_folder="../templates")
OPEN_ENDPOINTS = ("dashboard.login",)
SESSION_ID = "sid"  # the only login state in the cookie: a random id, its digest in the DB


def _principal() -> Principal | None:
    sid = session.get(SESSION_ID)
    if not isinstance(sid, str):
        return None
    settings = current_settings()
    return session_principal(settings.database_url, sid, auth.fingerprint(settings))


@bp.before_request
def _require_login() -> BaseResponse | tuple[str, int] | None:
    """Strangers go to the login page, an ended session gets 401; then every POST must carry
    its form's CSRF token and the role its action needs."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    principal = _principal()
    if principal is None:
        if SESSION_ID in session:  # logged out, disabled or expired: say so, at once
            session.pop(SESSION_ID)
            return render_template("login.html", error="Your session has ended; log in again.",
                                   next=None), 401
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    g.kfsync_principal = principal
    if request.method == "POST":
        current_app.extensions["csrf"].protect()  # raises CSRFError -> 400 page
        if request.endpoint != "dashboard.logout":
            auth.require("admin" if (request.endpoint or "").startswith("dashboard.studio")
                         else "operator")
    return None


@bp.app_context_processor
def _who() -> dict[str, Any]:
    principal = g.get("kfsync_principal")
    return {"principal": principal,
            "can": lambda role: principal is not None and principal.can(role)}


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    policy = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    if g.get("kfsync_scripts"):
        # The flow pages only (ingest.dashboard.flow): their own script files from this
        # origin, no inline script, no eval. Every other page runs no script at all.
        policy += "; script-src 'self'"
    response.headers["Content-Security-Policy"] = policy
    return response


def safe_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect).

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\\t/evil`` and
    ``/\\evil`` lead off-site: any control character, space or backslash is refused, and the
    path must parse without a scheme or host and not start with ``//``.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(ch) <= 32 or ord(ch) == 127 or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _safe_next(target: str | None) -> str:
    return safe_path(target) or url_for("dashboard.overview")


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", error=None, next=request.args.get("next")), 200
    current_app.extensions["csrf"].protect()
    settings = current_settings()
    name = request.form.get("user", "").strip()[:64]
    checks = [(LOGIN_PER_CLIENT, f"login:{request.remote_addr}")]
    if name:
        checks.append((LOGIN_PER_ACCOUNT, f"account:{name}"))
    if current_throttle().blocked(checks):
        log.warning("dashboard login throttled: client %s, account %s", request.remote_addr,
                    _account(name))
        return _login_page("Too many failed logins; wait a minute and try again.", name), 429
    principal = auth.login_principal(settings, name, request.form.get("token", ""))
    if principal is None:
        current_throttle().failed(checks)
        log.warning("failed dashboard login: client %s, account %s", request.remote_addr,
                    _account(name))
        return _login_page(_login_error(name), name), 401
    sid = open_session(settings.database_url, principal, timedelta(hours=SESSION_HOURS),
                       auth.fingerprint(settings) if principal.user_id is None else None)
    session.clear()
    session[SESSION_ID] = sid
    session.permanent = True
    log.info("dashboard login: %s (%s) from client %s", principal.name, principal.role,
             request.remote_addr)
    return redirect(_safe_next(request.args.get("next")))


def _account(name: str) -> str:
    """The account for the log: a known user's name; never what was typed otherwise (it may
    be a password typed into the wrong field)."""
    if not name:
        return "(ops token)"
    return name if user_exists(current_settings().database_url, name) else "(unknown name)"


def _login_error(name: str) -> str:
    if name:
        return "Wrong user name or password."
    if not current_settings().ops_token:
        return "Enter your user name (the ops token is not set: KFSYNC_OPS_TOKEN)."
    return "That is not the ops token."


def _login_page(error: str, name: str) -> str:
    return render_template("login.html", error=error, next=request.args.get("next"), user=name)


@bp.post("/logout")
def logout() -> BaseResponse:
    sid = session.get(SESSION_ID)
    if isinstance(sid, str):
        end_session(current_settings().database_url, sid)
    session.clear()
    return redirect(url_for("dashboard.login"))


from ingest.dashboard import (  # noqa: E402,F401 - registers the pages
    actions,
    flow,
    reconciliation,
    studio,
    studio_actions,
    summaries,
    views,
)
