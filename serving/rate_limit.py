"""Per-app request limits of the Query API (rules §8; Branch's defaults 5/s, 20/min, 150/h).

A sliding-window log per app: the times of its accepted requests within the longest window.
A request is accepted when every window still has room; a refused one is not logged, so a
client that backs off gets in as soon as the oldest request leaves the window. The state is
per process: N serving replicas allow up to N times the limits (put one limit on the load
balancer too if that matters).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._log: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def acquire(self, key: str, windows: tuple[tuple[float, int], ...]) -> int | None:
        """Log one request for ``key`` and return None, or return the whole seconds to wait
        (``Retry-After``) when a window ``(seconds, allowed)`` is full."""
        now = self._clock()
        longest = max(seconds for seconds, _ in windows)
        with self._lock:
            log = self._log[key]
            while log and log[0] <= now - longest:
                log.popleft()
            wait = 0.0
            for seconds, allowed in windows:
                # Full when `allowed` requests lie inside the window: wait for the oldest of them.
                for count, logged in enumerate(reversed(log), start=1):
                    if logged <= now - seconds:
                        break
                    if count == allowed:
                        wait = max(wait, logged + seconds - now)
                        break
            if wait > 0:
                return max(1, math.ceil(wait))
            log.append(now)
            return None
