"""The one retry policy of everything that sends to a service which may be away for a while: the tracking
client and the worker's reporter (to the API), and the API's enqueuer (to the broker).

Pauses double from ``first_s`` up to ``max_s``: a short outage is bridged within a second, and a long one costs
the service one try every few seconds from each sender.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 0.5
    max_s: float = 5.0

    def backoff(self) -> Backoff:
        """A fresh series of pauses, for one thing being retried."""
        return Backoff(self)


class Backoff:
    """The pauses between the tries of one thing: each call to :meth:`next` doubles the one after it."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.delay = policy.first_s  # the pause :meth:`next` returns

    def next(self) -> float:
        """The pause before the next try, and double it (up to the policy's maximum) for the one after."""
        delay = self.delay
        self.delay = min(delay * 2, self.policy.max_s)
        return delay

    def reset(self) -> None:
        """A try succeeded: the next failure starts from the shortest pause again."""
        self.delay = self.policy.first_s


RETRY = RetryPolicy()
