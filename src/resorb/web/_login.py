"""Checking a sign-in: throttling, password check and the unknown-user delay.

One function serves the login form and ``POST /api/token``. Its policy
(OWASP ASVS 4.0 level 2, sections 2.2.1 and 3.3 as the yardstick):

- **Progressive delays, not lock-outs.** Failures are counted per
  (account, source address), per source and per account, in the registry
  database so every worker and instance shares them. Past a few free failures
  each key waits twice as long as before (1 s, 2 s, 4 s, ...), up to a cap.
  Attempts refused during a wait are not counted, so waiting never gets longer.
- **Nobody can lock a user out.** The per-account key caps at
  ``login_account_max_delay_s`` (36 s: at most 100 failed guesses an hour, ASVS
  2.2.1) and does not apply at all to an address the user has signed in from
  in the last ``login_known_source_s``: a guesser elsewhere never slows the
  user's own workstation down.
- **Unknown users cost no hash but take as long.** A name that does not exist
  (or is not a valid name) is answered after the time a real password check
  takes (a running average of the real checks), spent asleep, not hashing: the
  timing reveals nothing and a flood of made-up names cannot exhaust the CPU.
- Argon2 runs in a worker thread, never on the event loop, at most one check
  per CPU at a time (each takes 64 MiB): a burst of sign-ins queues.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from resorb.registry import ThrottlePolicy, verify_password
from resorb.registry._security import USERNAME_PATTERN

__all__ = ["SWEEP_EVERY_S", "LoginResult", "attempt_login", "client_address"]

#: How often (at most) a failed sign-in also clears stale login state (seconds).
SWEEP_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Outcome of one sign-in attempt: the user, or why not."""

    user: Any = None
    retry_after_s: float = 0.0

    @property
    def throttled(self) -> bool:
        return self.retry_after_s > 0


class _VerifyTimer:
    """Running average of real password checks (seconds), seeded by one check."""

    def __init__(self) -> None:
        self.mean_s: float | None = None
        self.seeding = asyncio.Lock()  # one seeding check, not one per waiting request
        self.last_sweep_s = float("-inf")

    def add(self, seconds: float) -> None:
        self.mean_s = seconds if self.mean_s is None else 0.8 * self.mean_s + 0.2 * seconds


def _guard(request) -> tuple[Any, _VerifyTimer]:
    from resorb.web._middleware import auth_state

    app_state = request.app.state
    timer = getattr(app_state, "resorb_verify_timer", None)
    if timer is None:
        timer = _VerifyTimer()
        app_state.resorb_verify_timer = timer
    return auth_state(request.scope), timer


def _verify_slots(request) -> asyncio.Semaphore:
    app_state = request.app.state
    sem = getattr(app_state, "resorb_verify_slots", None)
    if sem is None:
        sem = asyncio.Semaphore(max(1, os.cpu_count() or 1))
        app_state.resorb_verify_slots = sem
    return sem


def client_address(request) -> str:
    """The peer address. Forwarded headers are applied by uvicorn only for the
    proxies named with ``resorb serve --trusted-proxy``; never read here."""
    return (request.client.host if request.client else "unknown")[:64]


def _policies(settings) -> dict[str, ThrottlePolicy]:
    free = settings.login_max_failures
    window = settings.login_window_s
    return {
        "pair": ThrottlePolicy(
            free_failures=free, base_delay_s=1.0, max_delay_s=window, window_s=window
        ),
        "src": ThrottlePolicy(
            free_failures=4 * free, base_delay_s=1.0, max_delay_s=window, window_s=window
        ),
        "acct": ThrottlePolicy(
            free_failures=2 * free,
            base_delay_s=1.0,
            max_delay_s=settings.login_account_max_delay_s,
            window_s=3600.0,
        ),
    }


async def attempt_login(request, username: str, password: str) -> LoginResult:
    """Check a sign-in; never raises for a wrong name or password."""
    st = request.app.state.resorb
    auth, timer = _guard(request)
    settings = st.settings
    now = settings.clock()
    name = (username or "").strip().lower()[:200]
    source = client_address(request)
    valid = bool(USERNAME_PATTERN.fullmatch(name))
    keys = {"pair": f"pair:{name}|{source}", "src": f"src:{source}", "acct": f"acct:{name}"}
    t0 = time.perf_counter()
    wait, user = await run_in_threadpool(
        auth.precheck,
        username=name if valid else None,
        source=source,
        pair_key=keys["pair"],
        source_key=keys["src"],
        account_key=keys["acct"],
        now_s=now,
        known_max_age_s=settings.login_known_source_s,
    )
    if wait > 0:
        return LoginResult(retry_after_s=wait)
    ok = False
    if user is not None:
        # At most one argon2 check per CPU at a time: each takes 64 MiB and a core,
        # so a burst of sign-ins queues here instead of exhausting memory.
        async with _verify_slots(request):
            t1 = time.perf_counter()
            ok = await run_in_threadpool(auth.password_matches, name, password or "")
            timer.add(time.perf_counter() - t1)
    else:
        if timer.mean_s is None:  # no real check yet: measure one, once for all requests
            async with timer.seeding:
                if timer.mean_s is None:
                    t1 = time.perf_counter()
                    await run_in_threadpool(_dummy_verify, password or "")
                    timer.add(time.perf_counter() - t1)
        await asyncio.sleep(max(0.0, (timer.mean_s or 0.0) - (time.perf_counter() - t0)))
    if not ok:
        policies = _policies(settings)
        await run_in_threadpool(auth.failed, {keys[k]: policies[k] for k in keys}, now_s=now)
        if now - timer.last_sweep_s > SWEEP_EVERY_S:
            timer.last_sweep_s = now
            await run_in_threadpool(
                auth.sweep,
                now_s=now,
                older_than_s=3600.0 + settings.login_window_s,
                session_idle_s=settings.session_idle_s,
                session_absolute_s=settings.session_absolute_s,
            )
        return LoginResult()
    await run_in_threadpool(
        auth.succeeded, pair_key=keys["pair"], username=name, source=source, now_s=now
    )
    return LoginResult(user=user)


_DUMMY: list[str] = []


def _dummy_verify(password: str) -> None:
    from resorb.registry import hash_password

    if not _DUMMY:
        _DUMMY.append(hash_password("not-a-password-of-anyone"))
    verify_password(_DUMMY[0], password)
