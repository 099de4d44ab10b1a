"""A small real HTTP client with the error handling people get wrong.

- 503 (and 429) with ``Retry-After``: wait as told (capped), then retry;
- a connection reset or close before any response byte: retry (GET is idempotent);
- a timeout: give up at once with ``ServiceTimeout`` (no retry storm against a slow service);
- anything else: return the response.

The example tests (``examples/test_client_retries.py``) check all of this
against the ``fault_proxy`` fixture, with real faults on the wire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = (429, 503)


class ServiceUnavailable(Exception):
    def __init__(self, msg: str, attempts: int):
        super().__init__(msg)
        self.attempts = attempts


class ServiceTimeout(Exception):
    pass


@dataclass
class Result:
    status: int
    body: bytes
    attempts: int
    waited: float = 0.0
    errors: list[str] = field(default_factory=list)


class Client:
    def __init__(self, base_url: str = "", *, proxy: str | None = None, verify=True, timeout: float = 2.0,
                 retries: int = 3, max_retry_after: float = 5.0, backoff: float = 0.05):
        self.retries = retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self.http = httpx.Client(base_url=base_url, proxy=proxy, verify=verify, timeout=timeout)

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(self, url: str) -> Result:
        waited, errors = 0.0, []
        for attempt in range(1, self.retries + 2):
            try:
                resp = self.http.get(url)
            except httpx.TimeoutException as e:
                raise ServiceTimeout(f"{url}: timed out ({type(e).__name__})") from e
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError) as e:
                # reset / closed connection: retry with a short backoff
                errors.append(f"{type(e).__name__}: {e}")
                if attempt > self.retries:
                    raise ServiceUnavailable(f"{url}: {errors[-1]} after {attempt} attempts", attempt) from e
                time.sleep(self.backoff * attempt)
                waited += self.backoff * attempt
                continue
            if resp.status_code in RETRY_STATUSES and attempt <= self.retries:
                delay = _retry_after(resp.headers.get("retry-after"), self.backoff * attempt)
                delay = min(delay, self.max_retry_after)
                errors.append(f"HTTP {resp.status_code}, retry after {delay:g}s")
                time.sleep(delay)
                waited += delay
                continue
            if resp.status_code in RETRY_STATUSES:
                raise ServiceUnavailable(f"{url}: HTTP {resp.status_code} after {attempt} attempts", attempt)
            return Result(resp.status_code, resp.content, attempt, waited, errors)
        raise AssertionError("unreachable")


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default  # an HTTP date: keep it simple in this example
