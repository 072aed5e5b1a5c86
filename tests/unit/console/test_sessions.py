"""Console sessions: server-side tokens, CSRF tokens, a new id at sign-in, expiry (a fake
clock stands in for time)."""

from __future__ import annotations

from stook_console.app import safe_next
from stook_console.sessions import IDLE, LIFETIME, SessionStore
from support.fake_clock import FakeClock


def test_sign_in_starts_a_new_session_and_ends_the_old_one() -> None:
    store = SessionStore()
    anonymous = store.new()
    assert not anonymous.signed_in
    signed = store.sign_in(anonymous, "alice", "secret-token")
    assert signed.id != anonymous.id and signed.csrf != anonymous.csrf
    assert store.get(anonymous.id) is None and store.get(signed.id) is signed
    assert "secret-token" not in repr(signed) and signed.id not in repr(signed)
    assert signed.csrf not in repr(store)


def test_the_csrf_token_must_match() -> None:
    session = SessionStore().new()
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok("x")


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    clock = FakeClock(1000.0)
    store = SessionStore(clock=clock)
    idle = store.new()
    clock.now += IDLE + 1
    assert store.get(idle.id) is None
    busy = store.new()
    for _ in range(LIFETIME // IDLE + 1):
        clock.now += IDLE - 1
        if store.get(busy.id) is None:
            break
    assert store.get(busy.id) is None and clock.now - busy.created > LIFETIME - IDLE


def test_only_local_paths_are_followed_after_sign_in() -> None:
    assert safe_next("/upgrades/x") == "/upgrades/x"
    for bad in (None, "", "https://evil.example/", "//evil.example/", "/\\evil", "upgrades"):
        assert safe_next(bad) == "/"
