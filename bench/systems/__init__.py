"""Systems under test. Each module implements the workload functions `measure.py` calls by name.

A system is run by `python -m bench.measure <system> <workload> '<json params>'` with the
interpreter listed here, so a peer lives in its own virtual environment (issue 6):
bench/.peers-venv, made on first use by `peers_python()` with `python -m venv` + pip from PyPI.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS_VENV = ROOT / "bench" / ".peers-venv"
# What the peers' environment installs (pinned majors: the table names the versions it ran).
# arq is left out: it pins redis<6 while Celery's kombu needs redis>=6.1, so the two cannot share
# one environment (see NOT_RUN).
PEER_PACKAGES = ("huey>=2.5", "redis>=6.1", "rq>=2", "procrastinate>=3", "pgqueuer>=0.20", "psycopg[binary]>=3.2",
                 "asyncpg>=0.29", "celery[redis]>=5.4", "dramatiq[redis]>=1.17")
PEER_FUNCTIONS = ("enqueue_single", "enqueue_bulk", "drain", "latency", "claim", "fanout", "cpu")
NO_FANOUT = tuple(f for f in PEER_FUNCTIONS if f != "fanout")
NO_BULK = "no bulk enqueue API"
NO_FANIN = "no fan-in primitive (nothing runs a job after a set of jobs has finished, server-side)"


@dataclass(frozen=True)
class System:
    name: str
    module: str  # imported by bench.measure
    python: str  # the interpreter that has this system installed ("" for a peer: the peers' venv)
    stores: tuple[str, ...]  # store kinds it runs on: "sqlite", "postgres", "redis", …
    functions: tuple[str, ...] | None = None  # workload functions it implements (None: all)
    package: str = ""  # the PyPI distribution, for its version in the notes
    config: str = ""  # how its workers are configured (the table's notes)
    venv: str = ".peers-venv"  # under bench/; a peer whose pins clash with the others gets its own
    packages: tuple[str, ...] = ()  # what that venv installs (empty: PEER_PACKAGES)
    extra: dict[str, str] = field(default_factory=dict)
    # why a workload function is not run for this system (listed under the table, never dropped)
    why_not: dict[str, str] = field(default_factory=dict)
    # how its workers/calls are set up per workload function, when that differs from `config`
    configs: dict[str, str] = field(default_factory=dict)

    def runs(self, function: str) -> bool:
        return self.functions is None or function in self.functions


SYSTEMS: dict[str, System] = {
    "conveyor": System("conveyor", "bench.systems.conveyor", sys.executable, ("sqlite", "postgres")),
    "huey": System("huey", "bench.systems.huey", "", ("sqlite", "redis"),
                   ("enqueue_single", "drain", "latency", "claim", "fanout", "cpu"), "huey",
                   "huey_consumer -k process -w <processes> --delay 0.01 --max-delay 0.1 (no bulk enqueue API)",
                   why_not={"enqueue_bulk": NO_BULK},
                   configs={"claim": "huey.dequeue(), one task per dequeue as its consumer does (Redis BRPOP; SQLite "
                                     "SELECT first + DELETE); backlog written in bulk in Huey's message format",
                            "fanout": "a chord: huey.enqueue(group(children).then(fanin)); "
                                      "huey_consumer -k process -w <cores>",
                            "cpu": "huey_consumer -k process -w <cores> (process workers: Huey's CPU advice)"}),
    "rq": System("rq", "bench.systems.rq", "", ("redis",), PEER_FUNCTIONS, "rq",
                 "rq worker-pool -n <processes> -w rq.worker.SimpleWorker "
                 "(the default forking Worker drained ≈ 60/s here)",
                 configs={"claim": "Queue.dequeue_any (LMOVE + HGETALL), one job per dequeue, as its worker does",
                          "fanout": "the fan-in job enqueued with depends_on = every child (RQ's multiple "
                                    "dependencies); children by enqueue_many; worker-pool -n <cores>",
                          "cpu": "worker-pool -n <cores> -w SimpleWorker (one job at a time per process)"}),
    "procrastinate": System("procrastinate", "bench.systems.procrastinate", "", ("postgres",), NO_FANOUT,
                            "procrastinate",
                            "one `procrastinate worker --concurrency 10` process per core "
                            "(PsycopgConnector; sync task)",
                            why_not={"fanout": NO_FANIN + " (Procrastinate: no job dependencies or callbacks)"},
                            configs={"claim": "JobManager.fetch_job (procrastinate_fetch_job_v2): one job per fetch, "
                                              "as its worker does",
                                     "cpu": "one `procrastinate worker --concurrency 1` per core (sync task in a "
                                            "thread, one at a time)"}),
    "pgqueuer": System("pgqueuer", "bench.systems.pgqueuer", "", ("postgres",), NO_FANOUT, "pgqueuer",
                       "one `pgq run`-equivalent process per core (defaults: batch_size 10, LISTEN/NOTIFY; asyncpg)",
                       why_not={"fanout": NO_FANIN + " (PgQueuer: no job dependencies or completion callbacks)"},
                       configs={"claim": "Queries.dequeue(batch_size=100): one query claims the batch (its "
                                         "worker's default batch_size is 10)",
                                "cpu": "one worker process per core, defaults; async entrypoint running the loop "
                                       "in asyncio.to_thread (PgQueuer's advice for blocking code)"}),
    "celery": System("celery", "bench.systems.celery", "", ("redis",),
                     ("enqueue_single", "drain", "latency", "claim", "fanout", "cpu"),
                     "celery", "celery worker --pool prefork --concurrency <processes>, Redis broker, results ignored "
                     "(prefetch multiplier default 4; no bulk enqueue API: a group publishes message by message)",
                     why_not={"enqueue_bulk": NO_BULK},
                     configs={"claim": "kombu channel.basic_get: one message per fetch (RPOP + the unacked hash), as "
                                       "the worker's BRPOP does; backlog: 10,000 published messages copied raw",
                              "fanout": "chord(noop_r.s(i) for every child)(fanin.si()), Redis result backend "
                                        "(members' results stored); prefork --concurrency <cores>",
                              "cpu": "celery worker --pool prefork --concurrency <cores> (default prefetch)"}),
    "dramatiq": System("dramatiq", "bench.systems.dramatiq", "", ("redis",),
                       ("enqueue_single", "drain", "latency", "claim", "fanout", "cpu"), "dramatiq",
                       "dramatiq --processes <processes> --threads 8 (its defaults: one process per core, 8 threads)",
                       why_not={"enqueue_bulk": NO_BULK},
                       configs={"claim": "broker.do_fetch(queue, 100): the consumer's batch fetch (Lua dispatch "
                                         "'fetch'), 100 messages, each then Message.decode'd as its consumer does",
                                "fanout": "group(children).add_completion_callback(fanin.message()).run(), "
                                          "GroupCallbacks middleware (Redis barrier); --processes <cores> --threads 8",
                                "cpu": "dramatiq --processes <cores> --threads 1"}),
    # arq pins redis<6, Celery's kombu needs redis>=6.1: arq gets a venv of its own.
    "arq": System("arq", "bench.systems.arq", "", ("redis",), ("enqueue_single", "drain", "latency", "claim", "cpu"),
                  "arq", "one `arq` worker process per core (defaults: max_jobs 10, poll_delay 0.5 s; no bulk API)",
                  why_not={"enqueue_bulk": NO_BULK,
                           "fanout": NO_FANIN + " (arq: no dependencies, groups or callbacks)"},
                  configs={"claim": "one poll: ZRANGEBYSCORE of queue_read_limit (100) ids + Worker.start_jobs "
                                    "claiming max_jobs (10) (WATCH/MULTI in-progress key each)",
                           "cpu": "one arq process per core; the coroutine's CPU loop blocks its event loop"},
                  venv=".peers-venv-arq", packages=("arq>=0.26",)),
    # SAQ's redis extra pins redis<8; its own venv keeps the shared one's versions unchanged.
    # (saq 0.26 imports typing_extensions without declaring it)
    "saq": System("saq", "bench.systems.saq", "", ("redis",), ("enqueue_single", "drain", "latency", "claim", "cpu"),
                  "saq", "saq … --workers <processes> (defaults: concurrency 10 per process; no bulk API used)",
                  why_not={"enqueue_bulk": NO_BULK, "fanout": NO_FANIN + " (SAQ: Queue.map and Queue.batch wait "
                           "in the client; no job runs after others)"},
                  configs={"claim": "Queue.dequeue(): one job per dequeue (BLMOVE queued → active + the job's key)",
                           "cpu": "saq … --workers <cores>; the coroutine's CPU loop blocks its event loop"},
                  venv=".peers-venv-saq", packages=("saq[redis]>=0.24", "typing_extensions")),
}


# Peers of issue 6 with no rows yet, and why (printed with the table, never dropped silently).
NOT_RUN: dict[str, str] = {}


def peers_python(packages: tuple[str, ...] = PEER_PACKAGES, venv: Path = PEERS_VENV) -> str:
    """The peers' interpreter, creating bench/.peers-venv (python -m venv + pip) on first use."""
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = "\n".join(packages)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return str(python)
    print(f"creating the peers' virtual environment at {venv} (pip from PyPI) …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    failed = []
    if subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=False).returncode:
        for package in packages:  # one at a time, so one that cannot install does not sink the rest
            if subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=False).returncode:
                failed.append(package)
    (venv / "failed.txt").write_text("\n".join(failed))
    marker.write_text(wanted)
    return str(python)


def peer_version(system: System) -> str:
    """The installed version of a peer's package, read with its own interpreter."""
    code = f"import importlib.metadata as m; print(m.version({system.package!r}))"
    python = system.python or system_python(system)
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def system_python(system: System) -> str:
    """The interpreter of a peer's venv (made on first use)."""
    return peers_python(system.packages or PEER_PACKAGES, ROOT / "bench" / system.venv)
