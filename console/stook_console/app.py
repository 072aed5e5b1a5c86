"""The console's pages and actions (Starlette): server-rendered, a little JS for live updates.

Every API call is made with the signed-in user's token (``Kube.as_user``) in a worker thread
(the client is blocking; each call has a timeout). State changes are POSTed forms carrying the
session's CSRF token; an upgrade is started in two steps: *Review* creates it paused and marked
awaiting confirmation, so the cluster controller's own pre-checks (the Validated condition)
are shown before anything is touched; *Start* (release notes read, pre-checks passed) unpauses
it; *Cancel* deletes it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stook_agent.api import BlockDevice, NodeUpgrade, Upgrade
from stook_console import views
from stook_console.kube import (
    BLOCK_DEVICES,
    EVENTS,
    NODE_NETWORKS,
    NODE_STATUSES,
    NODE_UPGRADES,
    NODES,
    OS_VERSIONS,
    UPGRADES,
    ApiError,
    Kube,
    Object,
    UserClient,
)
from stook_console.sessions import COOKIE, Session, SessionStore

log = logging.getLogger("stook_console")
HERE = Path(__file__).parent
MAX_FORM = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
    "Cache-Control": "no-store",
}


class RefusedError(Exception):
    """A request the console refuses before calling the API (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Console:
    def __init__(self, kube: Kube, sessions: SessionStore | None = None) -> None:
        self.kube = kube
        self.sessions = sessions or SessionStore()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["symbol"] = views.symbol

    # -- plumbing --------------------------------------------------------------------------

    def render(self, name: str, session: Session | None, status: int = 200, **data: Any) -> str:
        return self.templates.get_template(name).render(session=session, **data)

    def page(self, name: str, session: Session | None, status: int = 200, **data: Any) -> Response:
        return HTMLResponse(self.render(name, session, **data), status_code=status)

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    @staticmethod
    def set_cookie(response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE, session.id, httponly=True, secure=True, samesite="strict", path="/"
        )

    async def form(self, request: Request, session: Session | None) -> dict[str, str]:
        """The urlencoded form, after the CSRF check (every state change goes through here)."""
        body = await request.body()
        if len(body) > MAX_FORM:
            raise RefusedError(413, "the form is larger than 64 KiB")
        fields = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if session is None or not session.csrf_ok(fields.get("csrf")):
            raise RefusedError(403, "refused: the form's CSRF token is missing or does not match "
                               "this session (reload the page and try again)")  # fmt: skip
        return fields

    def user(self, session: Session) -> UserClient:
        assert session.token is not None
        return self.kube.as_user(session.token)

    def signed_in(
        self, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A page for signed-in users: others go to the sign-in page; errors become pages."""

        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None or not session.signed_in:
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"/login?next={target}", status_code=303)
            try:
                return await handler(request, session)
            except RefusedError as refused:
                return self.page("error.html", session, refused.status, message=refused.message)
            except ApiError as error:
                if error.status == 401:  # the token expired or was revoked
                    self.sessions.end(session)
                    return RedirectResponse("/login?expired=1", status_code=303)
                status = error.status if 400 <= error.status < 600 else 502
                return self.page("error.html", session, status, message=error.message,
                                 api=True)  # fmt: skip

        return endpoint

    # -- sign-in ---------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        session = self.session_of(request) or self.sessions.new()
        response = self.page(
            "login.html", session, next=safe_next(request.query_params.get("next")),
            expired=bool(request.query_params.get("expired")), error=None,
        )  # fmt: skip
        self.set_cookie(response, session)
        return response

    async def login(self, request: Request) -> Response:
        session = self.session_of(request)
        try:
            fields = await self.form(request, session)
        except RefusedError as refused:
            return self.page("error.html", None, refused.status, message=refused.message)
        token = fields.get("token", "").strip()
        target = safe_next(fields.get("next"))
        error = None
        if not token:
            error = "Paste a token: the field is empty."
        else:
            try:
                user = await run_in_threadpool(self.kube.as_user(token).whoami)
            except ApiError as failed:
                error = f"Sign-in failed: {failed.message}"
        if error is not None:
            return self.page("login.html", session, 401, next=target, expired=False,
                             error=error)  # fmt: skip
        fresh = self.sessions.sign_in(session, user, token)
        log.info("signed in: %s", user)
        response = RedirectResponse(target, status_code=303)
        self.set_cookie(response, fresh)
        return response

    async def logout(self, request: Request) -> Response:
        session = self.session_of(request)
        await self.form(request, session)
        self.sessions.end(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, secure=True, samesite="strict", path="/")
        return response

    # -- pages -----------------------------------------------------------------------------

    async def overview(self, request: Request, session: Session) -> Response:
        api = self.user(session)

        def fetch() -> dict[str, Any]:
            rows = views.node_rows(
                api.list(NODES), api.list(NODE_STATUSES), api.list(NODE_UPGRADES),
                api.list(BLOCK_DEVICES), api.list_optional(NODE_NETWORKS),
            )  # fmt: skip
            current = views.running_upgrade(views.upgrade_views(api.list(UPGRADES)))
            return {"nodes": rows, "current": current}

        return self.page("overview.html", session, **await run_in_threadpool(fetch))

    async def node(self, request: Request, session: Session) -> Response:
        api, name = self.user(session), request.path_params["name"]

        def fetch() -> dict[str, Any]:
            node = api.get(NODES, name)
            status = api.get_or_none(NODE_STATUSES, name)
            report = api.get_or_none(NODE_UPGRADES, name)
            devices = api.list(BLOCK_DEVICES, labelSelector=f"stook.io/node={name}")
            networks = api.list_optional(NODE_NETWORKS, fieldSelector=f"metadata.name={name}")
            row = views.node_rows([node], [status] if status else [], [report] if report else [],
                                  devices, networks)[0]  # fmt: skip
            events = api.list(EVENTS, fieldSelector=f"involvedObject.name={name}")
            return {
                "node": row,
                "report": NodeUpgrade.parse(report) if report else None,
                "devices": [BlockDevice.parse(d) for d in devices],
                "events": views.event_rows(events),
            }

        return self.page("node.html", session, **await run_in_threadpool(fetch))

    async def versions(self, request: Request, session: Session) -> Response:
        api = self.user(session)

        def fetch() -> dict[str, Any]:
            upgrades = views.upgrade_views(api.list(UPGRADES))
            permission = api.may("create", UPGRADES)
            return {
                "versions": views.version_rows(api.list(OS_VERSIONS)),
                "current": views.running_upgrade(upgrades),
                "refusal": permission.refusal(session.user or "you"),
            }

        return self.page("versions.html", session, **await run_in_threadpool(fetch))

    async def review(self, request: Request, session: Session) -> Response:
        """Create the Upgrade paused, awaiting confirmation: the controller pre-checks it."""
        fields = await self.form(request, session)
        api, version = self.user(session), request.path_params["name"]
        try:
            selector = views.parse_selector(fields.get("selector", ""))
        except views.SelectorError as error:
            raise RefusedError(400, str(error)) from None
        name = f"to-{version}"[:240] + f"-{secrets.token_hex(3)}"
        body = {
            "apiVersion": "stook.io/v1alpha1",
            "kind": "Upgrade",
            "metadata": {"name": name, "annotations": {views.DRAFT: "true",
                                                        "stook.io/created-by": session.user}},
            "spec": {"version": version, "paused": True}
            | ({"nodeSelector": selector} if selector else {}),
        }  # fmt: skip
        await run_in_threadpool(api.create, UPGRADES, body)
        log.info("%s created upgrade %s (awaiting confirmation)", session.user, name)
        return RedirectResponse(f"/upgrades/{quote(name)}", status_code=303)

    async def upgrades(self, request: Request, session: Session) -> Response:
        api = self.user(session)
        listed = await run_in_threadpool(api.list, UPGRADES)
        return self.page("upgrades.html", session, upgrades=views.upgrade_views(listed))

    def progress_data(self, api: UserClient, name: str, session: Session) -> dict[str, Any]:
        upgrade = views.upgrade_view(api.get(UPGRADES, name))
        events = api.list(
            EVENTS, fieldSelector=f"involvedObject.kind=Upgrade,involvedObject.name={name}"
        )
        permission = api.may("patch", UPGRADES, name)
        notes = None
        if upgrade.awaiting_confirmation:
            version = api.get_or_none(OS_VERSIONS, upgrade.version)
            notes = views.version_rows([version])[0] if version else None
        return {
            "upgrade": upgrade,
            "events": views.event_rows(events),
            "refusal": permission.refusal(session.user or "you"),
            "notes": notes,
        }

    async def progress(self, request: Request, session: Session) -> Response:
        api, name = self.user(session), request.path_params["name"]
        data = await run_in_threadpool(self.progress_data, api, name, session)
        return self.page("progress.html", session, **data)

    async def stream(self, request: Request, session: Session) -> Response:
        """Server-Sent Events: the live part of the progress page, re-rendered on each change
        the API server's watch reports."""
        api, name = self.user(session), request.path_params["name"]
        first = await run_in_threadpool(api.get, UPGRADES, name)
        changes: asyncio.Queue[str] = asyncio.Queue()
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=watch_upgrade, args=(api, name, first, changes, loop, stop), daemon=True
        ).start()

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        kind = await asyncio.wait_for(changes.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if kind == "ERROR":
                        yield "event: gone\ndata: the upgrade is gone or unreadable\n\n"
                        return
                    data = await run_in_threadpool(self.progress_data, api, name, session)
                    html = self.render("progress_live.html", session, **data)
                    lines = "".join(f"data: {line}\n" for line in html.splitlines())
                    yield f"event: update\n{lines}\n"
            finally:
                stop.set()

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    async def act(self, request: Request, session: Session) -> Response:
        """Start, pause, resume, retry, skip a node, abort or cancel (a merge patch of the spec)."""
        fields = await self.form(request, session)
        api, name, action = self.user(session), request.path_params["name"], request.path_params[
            "action"]  # fmt: skip
        back = RedirectResponse(f"/upgrades/{quote(name)}", status_code=303)

        def apply() -> Response:
            obj = api.get(UPGRADES, name)
            current, spec = views.upgrade_view(obj), Upgrade.parse(obj).spec
            if action == "start":
                if fields.get("read_notes") != "yes":
                    raise RefusedError(400, "confirm that you have read the release notes first")
                if not current.can_start:
                    raise RefusedError(409, "the pre-checks have not passed: " + current.checks)
                patch: Object = {"metadata": {"annotations": {views.DRAFT: None}},
                                 "spec": {"paused": False}}  # fmt: skip
            elif action == "cancel":
                if not current.awaiting_confirmation:
                    raise RefusedError(409, "only an upgrade awaiting confirmation is cancelled")
                api.delete(UPGRADES, name)
                log.info("%s cancelled upgrade %s", session.user, name)
                return RedirectResponse("/versions", status_code=303)
            elif action in ("pause", "resume"):
                patch = {"spec": {"paused": action == "pause"}}
            elif action == "abort":
                patch = {"spec": {"abort": True}}
            elif action == "retry":
                patch = {"spec": {"retry": spec.retry + 1}}
            elif action == "skip":
                node = fields.get("node", "")
                if node not in [n.name for n in current.nodes]:
                    raise RefusedError(400, f"node {node!r} is not part of upgrade {name}")
                patch = {"spec": {"skipNodes": sorted({*spec.skip_nodes, node})}}
            else:
                raise RefusedError(404, f"no such action: {action}")
            api.merge_patch(UPGRADES, name, patch)
            log.info("%s: %s upgrade %s", session.user, action, name)
            return back

        return await run_in_threadpool(apply)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    # -- the app ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        s = self.signed_in
        routes = [
            Route("/healthz", self.healthz),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", s(lambda r, _: self.logout(r)), methods=["POST"]),
            Route("/", s(self.overview)),
            Route("/nodes/{name}", s(self.node)),
            Route("/versions", s(self.versions)),
            Route("/versions/{name}/review", s(self.review), methods=["POST"]),
            Route("/upgrades", s(self.upgrades)),
            Route("/upgrades/{name}", s(self.progress)),
            Route("/upgrades/{name}/stream", s(self.stream)),
            Route("/upgrades/{name}/{action}", s(self.act), methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class SecurityHeaders:
    """Headers on every answer: a strict CSP (no inline script), no framing, no caching of
    pages (static files may be cached)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    if not (static and key == "Cache-Control"):
                        headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def watch_upgrade(
    api: UserClient,
    name: str,
    first: Object,
    changes: asyncio.Queue[str],
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> None:
    """Feed *changes* with one item per change of the Upgrade (a thread: the client blocks)."""
    version = str(first["metadata"]["resourceVersion"])
    loop.call_soon_threadsafe(changes.put_nowait, "ADDED")
    while not stop.is_set():
        try:
            for event in api.watch(UPGRADES, name, version):
                if stop.is_set():
                    return
                if event.get("type") == "ERROR":  # 410 Gone: start again from a fresh get
                    version = str(api.get(UPGRADES, name)["metadata"]["resourceVersion"])
                    loop.call_soon_threadsafe(changes.put_nowait, "MODIFIED")
                    break
                version = str(event["object"]["metadata"]["resourceVersion"])
                kind = "ERROR" if event.get("type") == "DELETED" else str(event.get("type"))
                loop.call_soon_threadsafe(changes.put_nowait, kind)
                if kind == "ERROR":
                    return
        except ApiError as error:
            log.warning("watch of upgrade %s: %s", name, error.message)
            if error.status in (401, 403, 404):
                loop.call_soon_threadsafe(changes.put_nowait, "ERROR")
                return
            if stop.wait(2):
                return


def safe_next(target: str | None) -> str:
    """Only a path of this console (no //host, no scheme): an open redirect is refused."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
