"""Client-side retry logic.

Every request carries an idempotency key, so a retried request is applied at
most once.
"""

import random

MAX_RETRIES = 5
BACKOFF_BASE_SECONDS = 0.2
USER_AGENT = "tidekv-python/1.0"


class StaleReadError(Exception):
    """Raised when the server reports that a follower answered with stale data."""


class ConfigError(Exception):
    pass


def backoff(attempt):
    # Full jitter: sleep a random time up to the exponential bound.
    return random.uniform(0, BACKOFF_BASE_SECONDS * 2 ** attempt)
