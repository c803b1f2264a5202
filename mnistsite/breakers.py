"""Per-process circuit breakers: after a service fails, this process skips
it for a few seconds instead of asking again at once.

A service that hangs costs every call its socket timeout (1 s for Redis);
without a breaker a request that makes three cache calls waits three times
over, and every request of every thread does. Whatever is skipped must have
a way to do without the service (fail open to the database, let the request
through, keep the file elsewhere): a breaker only decides how soon to try
again, never what happens without the service.
"""

import logging
import time

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Open (skip the service) for `seconds` after `trip()`, then closed
    again: the next call tries the service, and trips it anew if it fails.
    Reads and writes of one float: safe across threads without a lock (a
    race at worst tries the service once more)."""

    def __init__(self, service: str, seconds: float) -> None:
        self.service = service
        self.seconds = seconds
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, exc: BaseException) -> None:
        """The service just failed with `exc`: skip it for a while (logged
        once per opening, not once per skipped call)."""
        self._open_until = time.monotonic() + self.seconds
        logger.warning(
            "%s failed (%s); skipped by this process for %.0f s",
            self.service,
            repr(exc),
            self.seconds,
        )

    def reset(self) -> None:
        self._open_until = 0.0


# The default cache (Redis in production): the throttles' counters and the
# token cache share it, so one failure spares all of them its timeouts.
cache_breaker = CircuitBreaker("the cache", seconds=5.0)
