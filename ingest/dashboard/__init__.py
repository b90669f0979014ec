"""The HTML dashboard under ``/``: login with the ops token (a session cookie), then the
overview, jobs, dead letters and review items, with requeue and discard forms.

Server-rendered Jinja pages, no front-end build. Every form carries a CSRF token
(Flask-WTF's ``CSRFProtect``, enabled in the app factory). Pages show job data, never a
setting: no token, password or secret is ever put into a template.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ingest.app import current_settings
from ingest.auth import SESSION_KEY, fingerprint, token_matches

bp = Blueprint("dashboard", __name__, template_folder="../templates")
OPEN_ENDPOINTS = ("dashboard.login",)


@bp.before_request
def _require_login() -> BaseResponse | None:
    """Strangers go to the login page; then every POST must carry its form's CSRF token."""
    if request.endpoint not in OPEN_ENDPOINTS and (
            not current_settings().ops_token
            or session.get(SESSION_KEY) != fingerprint(current_settings())):
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        current_app.extensions["csrf"].protect()  # raises CSRFError -> 400 page
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.overview")


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    settings = current_settings()
    error = None
    if request.method == "POST":
        if token_matches(settings, request.form.get("token")):
            session.clear()
            session[SESSION_KEY] = fingerprint(settings)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = ("The dashboard is disabled: KFSYNC_OPS_TOKEN is not set."
                 if not settings.ops_token else "That is not the ops token.")
    status = 401 if error else 200
    return render_template("login.html", error=error, next=request.args.get("next")), status


@bp.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    return redirect(url_for("dashboard.login"))


from ingest.dashboard import (  # noqa: E402,F401 - registers the pages
    actions,
    studio,
    studio_actions,
    views,
)
