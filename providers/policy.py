"""Retry with exponential backoff and jitter, Retry-After parsing, a client-side rate limiter.

Clocks and sleeps are injectable so tests run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from providers.base import ProviderError, ProviderTimeout, RateLimited

T = TypeVar("T")

MAX_HONOURED_RETRY_AFTER_S = 120.0  # the OpenAI SDK's rule: a longer wait means "do not retry"


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date; None if absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    budget_s: float = 120.0  # total time spent waiting between attempts
    jitter: float = 0.25

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before attempt number `attempt + 1` (attempt counts from 1)."""
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        r = (rng or random).random()
        return delay * (1 - self.jitter * r)


OnRetry = Callable[[ProviderError, int, float], None]

# Who wants to hear about retries in the current task (a job shows "rate-limited, retrying in 5 s"). A
# context variable, because one adapter serves many concurrent jobs and each job runs in its own task.
RETRY_LISTENER: contextvars.ContextVar[OnRetry | None] = contextvars.ContextVar("retry_listener", default=None)


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> T:
    """Run `fn`, retrying typed errors whose `retryable` is set, within the attempt count and time budget.

    A RateLimited error's `retry_after` is honoured; one longer than the budget (or over 120 s) ends the
    retries at once so the caller can fall back or tell the user when to come back.
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except ProviderError as exc:
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            delay = policy.backoff(attempt)
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                if exc.retry_after > MAX_HONOURED_RETRY_AFTER_S:
                    raise
                delay = exc.retry_after
            if waited + delay > policy.budget_s:
                raise
            for listener in (on_retry, RETRY_LISTENER.get()):
                if listener is not None:
                    listener(exc, attempt, delay)
            waited += delay
            await sleep(delay)


class RateLimiter:
    """Token bucket: at most `rate` calls per second with bursts of `burst`. Shared by one provider's calls."""

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                # Sleep once for the missing fraction, then take the token. Trusting the sleep (rather than
                # looping until the clock agrees) avoids a busy loop that blocks the event loop when a test
                # injects a sleep that does not advance the clock, and a second tiny sleep on float rounding.
                await self._sleep((1.0 - self._tokens) / self.rate)
                self._refill()
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1.0


async def with_deadline(coro: Awaitable[T], seconds: float, provider: str) -> T:
    """An overall deadline: httpx's read timeout is per chunk, so a server that drips bytes never trips it."""
    try:
        async with asyncio.timeout(seconds):
            return await coro
    except TimeoutError:
        raise ProviderTimeout(f"no answer within {seconds:g} s", provider=provider) from None
