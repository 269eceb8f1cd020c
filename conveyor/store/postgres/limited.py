"""The limited claim path on PostgreSQL: claims while fleet-wide limits exist.

It runs in a transaction that first locks every limit row (limits_lock.sql), so claimers that
limits apply to take turns: two of them never both see a key's last free slot or token. The
decision itself is the shared `Budget` (conveyor/store/limits.py), as in SQLiteStore._claim_limited.
The unlimited path (job_claim*.sql) never comes here and never takes the lock.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..limits import Budget, Limit
from ..params import JobClaim
from .database import Q


def claim_limited(conn: psycopg.Connection[Any], p: JobClaim) -> tuple[Budget, list[tuple[Any, ...]]] | None:
    """Claim in order, skipping jobs whose queue or type is at its limit; None if no limit exists."""
    with conn.transaction():
        cur = conn.cursor()
        limits = [Limit(*row) for row in cur.execute(Q["limits_lock"]).fetchall()]
        if not limits:
            return None
        running: dict[tuple[str, str], int] = {}
        for queue, job_type, n in cur.execute(Q["limits_running"]).fetchall():
            running[("queue", queue)] = running.get(("queue", queue), 0) + n
            running[("job_type", job_type)] = running.get(("job_type", job_type), 0) + n
        budget = Budget(limits, running, p.now)
        claimed: list[tuple[Any, ...]] = []
        base = {"worker_id": p.worker_id, "now": p.now, "lease_expires_at": p.now + p.lease_seconds}
        queues = list(p.queues) if p.queues is not None else None
        # Each round either fills the claim or blocks another key, so rounds are few.
        for _ in range(len(limits) + 2):
            want = p.limit - len(claimed)
            params = {"queues": queues, "skip_queues": budget.blocked("queue"),
                      "skip_types": budget.blocked("job_type"), "limit": want * 4}
            candidates = cur.execute(Q["job_claim_candidates"], params).fetchall()
            take: list[int] = []
            for seq, queue, job_type in candidates:
                if len(take) == want:
                    break
                if budget.take(queue, job_type):
                    take.append(seq)
            if take:
                claimed.extend(cur.execute(Q["job_claim_ids"], {**base, "ids": take}).fetchall())
            if len(claimed) >= p.limit or len(candidates) < want * 4:
                break
        for scope, key, tokens in budget.token_updates():
            cur.execute(Q["limit_tokens_update"], {"scope": scope, "key": key, "tokens": tokens, "now": p.now})
        return budget, claimed
