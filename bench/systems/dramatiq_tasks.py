"""Dramatiq's broker and actor for the benchmark; Redis comes from $BENCH_STORE_URL."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.systems._peer import stamp

broker = RedisBroker(url=os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9"))
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench", max_retries=0)
def noop(i: int) -> None:
    stamp(i)
