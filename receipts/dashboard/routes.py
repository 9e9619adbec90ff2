"""The dashboard's routes: ``/dashboard`` (overview), drill-down, one receipt, sign-in/out.

Pages are rendered on the server from the spend API's own query functions (no second
aggregation, no script in the page), so they are interactive as soon as the HTML arrives and
work offline. The routes are left out of the OpenAPI document: ``/docs`` describes the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from receipts.dashboard import sessions, views
from receipts.dashboard.pages import ROOT, SECURITY_HEADERS, STATIC, render
from receipts.dashboard.selection import Selection
from receipts.dashboard.signin import (
    Viewer,
    form_fields,
    same_origin,
    sign_in,
    sign_out,
    viewer_of,
)
from receipts.errors import Forbidden, ReceiptsError

__all__ = ["ROOT", "error_page", "install", "router"]

router = APIRouter(prefix=ROOT, include_in_schema=False)
STATIC_FILES = StaticFiles(directory=Path(__file__).parent / "static")


def _cookie_flags(request: Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "strict", "path": ROOT,
            "secure": request.url.scheme == "https"}


def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form, with a fresh double-submit CSRF value in a cookie and the form."""
    csrf = sessions.new_token()
    response = render("login.html", status=status, csrf=csrf, error=error, viewer=None)
    response.set_cookie(sessions.LOGIN_CSRF_COOKIE, csrf, max_age=3600,
                        **_cookie_flags(request))  # type: ignore[arg-type]
    return response


def error_page(request: Request, error: ReceiptsError) -> Response:
    """How the one HTTP error handler answers a dashboard page: 401 is the sign-in form,
    anything else a page that says what went wrong (never a stack trace)."""
    if error.status == 401:
        return login_page(request, None if str(error) == "sign in" else str(error), 401)
    return render("error.html", status=error.status, code=error.status,
                  message=str(error), viewer=None, csrf="")


@router.get("", response_class=Response)
def root_redirect() -> Response:
    """``/dashboard`` -> ``/dashboard/``."""
    return RedirectResponse(f"{ROOT}/", status_code=308, headers=SECURITY_HEADERS)


@router.get("/login", response_class=Response)
def login_form(request: Request) -> Response:
    """The sign-in form."""
    return login_page(request)


@router.post("/login", response_class=Response)
async def login(request: Request) -> Response:
    """Exchange a token (posted once, in the form body) for a session cookie."""
    same_origin(request)
    fields = await form_fields(request)
    if not sessions.same_token(fields.get("csrf"), request.cookies.get(
            sessions.LOGIN_CSRF_COOKIE, "\0")):
        return login_page(request, "the form expired: try again", 403)
    try:
        session_id = await run_in_threadpool(sign_in, request, fields.get("token", ""))
    except ReceiptsError as e:
        if e.status in (401, 403):
            return login_page(request, str(e), e.status)
        raise
    response = RedirectResponse(f"{ROOT}/", status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(sessions.SESSION_COOKIE, session_id, max_age=sessions.SESSION_MS // 1000,
                        **_cookie_flags(request))  # type: ignore[arg-type]
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path=ROOT)
    return response


@router.post("/logout", response_class=Response)
async def logout(request: Request) -> Response:
    """End the session (the form carries the session's CSRF value)."""
    same_origin(request)
    viewer = await viewer_of(request)
    fields = await form_fields(request)
    if not sessions.same_token(fields.get("csrf"), viewer.csrf):
        raise Forbidden("the form expired: reload the page")
    await run_in_threadpool(sign_out, request, viewer.session_id)
    response = RedirectResponse(f"{ROOT}/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(sessions.SESSION_COOKIE, path=ROOT)
    return response


def _page(template: str, viewer: Viewer, view: object) -> Response:
    return render(template, viewer=viewer, csrf=viewer.csrf, view=view,
                  keep=getattr(view, "keep", {}), stack_choices=views.STACK_CHOICES)


@router.get("/", response_class=Response)
async def overview(request: Request) -> Response:
    """Total and change, daily spend, top drivers, provider share, budgets, alerts."""
    viewer = await viewer_of(request)
    view = await run_in_threadpool(views.overview, request, viewer.scope,
                                   Selection.of(request))
    return _page("overview.html", viewer, view)


@router.get("/drill", response_class=Response)
async def drill(request: Request) -> Response:
    """team -> project -> model -> agent -> receipts."""
    viewer = await viewer_of(request)
    view = await run_in_threadpool(views.drill, request, viewer.scope,
                                   Selection.of(request))
    return _page("drill.html", viewer, view)


@router.get("/receipts/{receipt_id}", response_class=Response)
async def receipt(receipt_id: str, request: Request) -> Response:
    """One receipt: its fields, its price book and its chain position."""
    viewer = await viewer_of(request)
    view = await run_in_threadpool(views.receipt, request, viewer.scope, receipt_id)
    return _page("receipt.html", viewer, view)


def install(app: FastAPI) -> None:
    """Mount the pages and their assets on the app."""
    app.include_router(router)
    app.mount(STATIC, STATIC_FILES, name="dashboard-static")
