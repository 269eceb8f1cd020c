"""Dramatiq's broker and actor for the benchmark; Redis comes from $BENCH_STORE_URL.

W5 (a group with a completion callback) needs Dramatiq's GroupCallbacks middleware and a rate
limiter backend (its barrier): added when $BENCH_DRAMATIQ_GROUPS is set, so the other workloads
run with the default middleware."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.systems._peer import stamp

_url = os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9")
broker = RedisBroker(url=_url)
if os.environ.get("BENCH_DRAMATIQ_GROUPS"):
    from dramatiq.middleware import GroupCallbacks
    from dramatiq.rate_limits.backends import RedisBackend

    broker.add_middleware(GroupCallbacks(RedisBackend(url=_url)))
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench", max_retries=0)
def noop(i: int) -> None:
    stamp(i)


@dramatiq.actor(queue_name="bench", max_retries=0)
def fanin() -> None:
    from bench.systems._peer import FANIN

    stamp(FANIN)


@dramatiq.actor(queue_name="bench", max_retries=0)
def cpu(i: int) -> None:
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)
