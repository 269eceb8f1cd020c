"""What the benchmark measures: workloads (W1–W6 of issue 6), their sizes, and issue 2's targets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """`op` is ">=", "<=" or ">"; the threshold is `value`, or the median of row `row`."""

    op: str
    value: float | None = None
    row: str | None = None

    def threshold(self, medians: Mapping[str, float]) -> float | None:
        return medians.get(self.row) if self.row is not None else self.value

    def passes(self, value: float, medians: Mapping[str, float]) -> bool | None:
        limit = self.threshold(medians)
        if limit is None:
            return None
        return {">=": value >= limit, "<=": value <= limit, ">": value > limit}[self.op]

    def describe(self, rows: Mapping[str, Row]) -> str:
        if self.row is not None:
            return f"{self.op} {rows[self.row].short if self.row in rows else self.row}"
        assert self.value is not None
        return f"{self.op} {self.value:,.4g}" if self.value < 1000 else f"{self.op} {self.value:,.0f}"


@dataclass(frozen=True)
class Row:
    key: str
    workload: str  # "W2 drain"
    label: str  # what exactly was measured
    figure: str  # key in the measurement's JSON
    unit: str
    target: Target | None = None
    short: str = ""  # how another row's target names this one


@dataclass(frozen=True)
class Case:
    """One measurement function (run `runs` times, each in a fresh process on fresh stores)."""

    key: str
    function: str
    params: dict[str, Any]
    rows: tuple[Row, ...]
    # Stores the function gets, by parameter name: {"store_url": (0, False)} is one empty store
    # per run; (n, True) is filled with n pending jobs once and kept across runs.
    stores: dict[str, tuple[int, bool]] = field(default_factory=lambda: {"store_url": (0, False)})


@dataclass(frozen=True)
class Sizes:
    single: int = 10_000
    bulk: int = 100_000
    bulk_batches: tuple[int, ...] = (10_000, 1_000)
    drain: int = 10_000
    latency_jobs: int = 200
    latency_rate: float = 50.0
    claim_small: int = 10_000
    claim_big: int = 1_000_000
    claim_batch: int = 100
    claims: int = 30
    fanout: int = 10_000
    cpu_jobs: int = 200
    cpu_job_ms: float = 20.0  # what one W6 job is calibrated to cost (bench/systems/_cpu.py)


FULL = Sizes()
QUICK = Sizes(single=2_000, bulk=20_000, bulk_batches=(10_000,), drain=2_000, latency_jobs=50,
              claim_big=100_000, claims=10, fanout=1_000, cpu_jobs=40)
CORES = os.cpu_count() or 1


def cases(s: Sizes, concurrency: int, claim_batch: int) -> list[Case]:
    out = [
        Case("enqueue_single", "enqueue_single", {"n": s.single}, (
            Row("enqueue_single", "W1 enqueue", f"app.enqueue × {s.single:,} (one commit each)",
                "jobs_per_s", "jobs/s", Target(">=", 10_000)),
        )),
    ]
    for batch in s.bulk_batches:
        out.append(Case(f"enqueue_many_{batch}", "enqueue_bulk", {"n": s.bulk, "batch": batch}, (
            Row(f"enqueue_many_{batch}", "W1 enqueue", f"app.enqueue_many {s.bulk:,} in batches of {batch:,}",
                "jobs_per_s", "jobs/s", Target(">=", 100_000)),
        )))
    for processes in (1, 2):
        plural = "es" if processes > 1 else ""
        worker = (f"{processes} worker process{plural} (Conveyor: concurrency {concurrency}, "
                  f"claim_batch {claim_batch}; peers: see notes)")
        target = Target(">=", 10_000) if processes == 1 else Target(">", row="drain_1")
        params = {"n": s.drain, "processes": processes, "concurrency": concurrency, "claim_batch": claim_batch}
        out.append(Case(f"drain_{processes}", "drain", params, (
            Row(f"drain_{processes}", "W2 drain", f"{s.drain:,} queued no-op jobs; {worker}",
                "jobs_per_s", "jobs/s", target, short="1 process"),
        )))
    for processes in (1, 2):
        plural = "es" if processes > 1 else ""
        worker = f"{processes} process{plural}, warm"
        target = Target(">=", 10_000) if processes == 1 else Target(">", row="drain_warm_1")
        params = {"n": s.drain, "processes": processes, "concurrency": concurrency, "claim_batch": claim_batch}
        out.append(Case(f"drain_warm_{processes}", "drain_warm", params, (
            Row(f"drain_warm_{processes}", "W2 drain",
                f"{s.drain:,} jobs in one enqueue_many onto idle workers; {worker}",
                "jobs_per_s", "jobs/s", target, short="1 process, warm"),
        )))
    lat = f"idle worker, {s.latency_jobs} jobs at {s.latency_rate:g}/s, enqueue call → handler start"
    out.append(Case("latency", "latency", {"n": s.latency_jobs, "rate": s.latency_rate}, (
        Row("latency_p50", "W3 latency", f"p50, {lat}", "p50_ms", "ms", Target("<=", 2.0)),
        Row("latency_p95", "W3 latency", "p95", "p95_ms", "ms"),
        Row("latency_p99", "W3 latency", "p99", "p99_ms", "ms"),
    )))
    claim = (f"one claim of {s.claim_batch} (a peer: one fetch as its worker does it, {s.claim_batch} "
             "where it fetches batches, else 1 — `batch` in the notes), per job claimed")
    out.append(Case("claim", "claim", {"batch": s.claim_batch, "claims": s.claims}, (
        Row("claim_small", "W4 claim", f"{claim}, {s.claim_small:,} pending", "small_us_per_job", "µs/job"),
        Row("claim_big", "W4 claim", f"the same, {s.claim_big:,} pending", "big_us_per_job", "µs/job"),
        Row("claim_ratio", "W4 claim", f"{s.claim_big:,} vs {s.claim_small:,} pending (claim time)", "ratio", "×",
            Target("<=", 1.5)),
    ), stores={"small_url": (s.claim_small, False), "big_url": (s.claim_big, True)}))
    params = {"n": s.fanout, "processes": CORES, "concurrency": concurrency, "claim_batch": claim_batch}
    out.append(Case("fanout", "fanout", params, (
        Row("fanout", "W5 fan-out/in",
            f"{s.fanout:,} no-op children, then one fan-in job after all (Conveyor: a batch + a job depending "
            f"on it): seconds from the enqueue call to the fan-in job's start; {CORES} worker processes, idle "
            "when it starts (children/s in the notes)",
            "fanin_s", "s"),
    )))
    ideal = CORES / (s.cpu_job_ms / 1000)
    params = {"n": s.cpu_jobs, "processes": CORES, "concurrency": 1}
    out.append(Case("cpu", "cpu", params, (
        Row("cpu", "W6 CPU-bound",
            f"{s.cpu_jobs} jobs of ≈ {s.cpu_job_ms:g} ms pure Python onto {CORES} idle worker processes "
            f"(one per core); first start → last end; ideal {CORES} ÷ {s.cpu_job_ms:g} ms = {ideal:,.0f}/s",
            "jobs_per_s", "jobs/s"),
    )))
    return out
