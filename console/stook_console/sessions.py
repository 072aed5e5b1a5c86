"""Sessions: the user's token stays on the server; the browser holds a random session id.

The cookie is HttpOnly, Secure and SameSite=Strict. A session has a CSRF token that every
state-changing request must send back (a form field); signing in starts a new session id, so
an id planted before sign-in is worthless afterwards. Sessions end after ``IDLE`` seconds
without use or ``LIFETIME`` seconds in all (a token may be revoked meanwhile: the API server
checks it on every call anyway).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "stook_console"
IDLE = 30 * 60
LIFETIME = 12 * 3600


@dataclass
class Session:
    id: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    used: float
    user: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, sent or "")


@dataclass
class SessionStore:
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def new(self) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(session_id)
            if session is not None:
                session.used = now
            return session

    def sign_in(self, old: Session | None, user: str, token: str) -> Session:
        """A fresh session (new id, new CSRF token) for *user*; the old one ends."""
        self.end(old)
        session = self.new()
        session.user, session.token = user, token
        return session

    def end(self, session: Session | None) -> None:
        if session is not None:
            with self._lock:
                self._sessions.pop(session.id, None)

    def _expire(self, now: float) -> None:
        stale = [
            key
            for key, s in self._sessions.items()
            if now - s.used > IDLE or now - s.created > LIFETIME
        ]
        for key in stale:
            del self._sessions[key]
