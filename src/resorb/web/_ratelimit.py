"""Login rate limiting: failed attempts per username and per client address."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """Sliding-window counter of failed logins.

    A key (``"user:<name>"`` or ``"addr:<ip>"``) that has ``max_failures``
    failures within ``window_s`` is blocked until the oldest of them leaves the
    window, whether or not the next password is right: a guesser learns nothing
    from a blocked attempt. A successful login clears the username's count.
    Kept in process memory: one server process, as ``resorb serve`` runs.
    """

    def __init__(self, *, max_failures: int, window_s: float,
                 clock: Callable[[], float]) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
        return q

    def retry_after_s(self, *keys: str) -> float:
        """Seconds until an attempt for these keys is allowed; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.window_s - (now - q[-self.max_failures]))
        return wait

    #: Above this many tracked keys, stale ones are swept (memory stays bounded).
    sweep_above = 10_000

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > self.sweep_above:
                for key in list(self._failures):
                    self._prune(key, now)
            for key in keys:
                self._prune(key, now)
                self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
