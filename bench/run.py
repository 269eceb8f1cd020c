"""The orchestrator: `python -m bench` (or `python bench/run.py`). See bench/README.md.

Runs every case `--runs` times, round-robin (run 1 of every case, then run 2, …) so a burst of
machine noise spreads over all figures instead of sinking one; each run is a fresh process on
fresh stores; prints the medians as a Rich table and writes bench/results/latest.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan import FULL, QUICK, Case, cases
from bench.report import Outcome, render
from bench.stores import Stores, postgres_problem, redis_problem
from bench.systems import NOT_RUN, SYSTEMS, System, peer_version, system_python

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_CONCURRENCY = 100
DEFAULT_CLAIM_BATCH = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="Conveyor's benchmark (issue 2 §9, issue 6).")
    p.add_argument("--runs", type=int, default=3, help="runs per figure; the table shows the median [3]")
    p.add_argument("--quick", action="store_true", help="small sizes: a sanity run, not figures to quote")
    p.add_argument("--postgres", metavar="URL", help="also run every workload on PostgreSQL at URL "
                   "(the role needs CREATEDB: each run gets a fresh database)")
    p.add_argument("--no-sqlite", action="store_true", help="skip the SQLite rows")
    p.add_argument("--systems", default="conveyor", help="comma-separated systems to run [conveyor]; "
                   f"'all' for every one ({','.join(SYSTEMS)})")
    p.add_argument("--redis", metavar="URL", default="redis://127.0.0.1:6379/9",
                   help="Redis for the Redis-backed peers (the database is flushed each run) [%(default)s]")
    p.add_argument("--only", metavar="CASES", help="comma-separated case keys, e.g. drain_1,latency")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="drain workers' --concurrency")
    p.add_argument("--claim-batch", type=int, default=DEFAULT_CLAIM_BATCH, help="drain workers' claim_batch")
    p.add_argument("--workdir", type=Path, help="where SQLite files go [a temp folder on the default disk]")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.md", help="Markdown output [bench/results/latest.md]")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def measure(system: System, function: str, params: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("CONVEYOR_DATABASE_URL", None)
    proc = subprocess.run(
        [system.python, "-m", "bench.measure", system.name, function, json.dumps(params)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{function} exited {proc.returncode}: {tail}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def run_case(system: System, case: Case, stores: Stores) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for param, (jobs, keep) in case.stores.items():
            if keep:
                url, created = stores.kept(f"{case.key}_{param}")
                if created and jobs:
                    print(f"    preparing {jobs:,} pending jobs for {case.key} (once) …", flush=True)
                    took = measure(system, "prepare", {"store_url": url, "n": jobs}).get("seconds", 0.0)
                    print(f"    prepared in {took:,.1f} s", flush=True)
            else:
                url = stack.enter_context(stores.fresh())
                if jobs:
                    measure(system, "prepare", {"store_url": url, "n": jobs})
            urls[param] = url
        return measure(system, case.function, {**case.params, **urls})


def _peer_system(system: System, skipped: list[str]) -> System | None:
    """The peer with the peers' interpreter (bench/.peers-venv, made on first use), or None and
    the reason in `skipped`."""
    try:
        system = dataclasses.replace(system, python=system_python(system))
    except Exception as exc:
        skipped.append(f"{system.name}: skipped: the peers' virtual environment could not be made ({exc})")
        return None
    failed_file = ROOT / "bench" / system.venv / "failed.txt"
    failed = failed_file.read_text().split() if failed_file.exists() else []
    if any(f.split(">")[0].split("[")[0] == system.package for f in failed):
        skipped.append(f"{system.name}: skipped: `pip install {system.package}` failed in bench/.peers-venv")
        return None
    skipped.append(f"{system.name} {peer_version(system)}: {system.config}")
    return system


def _store_targets(args: argparse.Namespace, workdir: Path, system: System,
                   targets: list[tuple[System, str, Stores]], skipped: list[str]) -> None:
    if "sqlite" in system.stores and not args.no_sqlite:
        targets.append((system, "sqlite", Stores("sqlite", workdir)))
    if "postgres" in system.stores:
        if not args.postgres:
            skipped.append(f"{system.name}/postgres: skipped: no --postgres URL given")
        else:
            problem = postgres_problem(args.postgres, conveyor=system.name == "conveyor")
            if problem:
                skipped.append(f"{system.name}/postgres: skipped: {problem}")
            else:
                targets.append((system, "postgres", Stores("postgres", workdir, args.postgres)))
    if "redis" in system.stores:
        problem = redis_problem(args.redis)
        if problem:
            skipped.append(f"{system.name}/redis: skipped: {problem}")
        else:
            targets.append((system, "redis", Stores("redis", workdir, redis_url=args.redis)))


def targets_for(args: argparse.Namespace, workdir: Path) -> tuple[list[tuple[System, str, Stores]], list[str]]:
    """(system, store kind, stores) to run, and why any were skipped. A peer (issue 6) is a System
    run by the peers' own interpreter (bench/.peers-venv, made on first use); its rows join the
    same table."""
    targets: list[tuple[System, str, Stores]] = []
    skipped: list[str] = []
    names = [*SYSTEMS, *NOT_RUN] if args.systems == "all" else args.systems.split(",")
    for name in names:
        if name in NOT_RUN:
            skipped.append(f"{name}: {NOT_RUN[name]}")
            continue
        system = SYSTEMS.get(name)
        if system is None:
            skipped.append(f"{name}: skipped: unknown system (known: {', '.join(SYSTEMS)})")
            continue
        if not system.python:
            peer = _peer_system(system, skipped)
            if peer is None:
                continue
            system = peer
        _store_targets(args, workdir, system, targets, skipped)
    for reason in skipped:
        print(reason, flush=True)
    return targets, skipped


def workload_notes(targets: list[tuple[System, str, Stores]], plan: list[Case]) -> list[str]:
    """Per system/store: each planned workload it does not run, and why; how it is set up for a
    workload when that differs from its drain configuration."""
    notes = []
    for system, kind, _ in targets:
        for function in dict.fromkeys(c.function for c in plan):
            keys = ", ".join(c.key for c in plan if c.function == function)
            if not system.runs(function):
                why = system.why_not.get(function, "no such workload or API")
                notes.append(f"{system.name}/{kind}: not run: {keys}: {why}")
            elif function in system.configs:
                notes.append(f"{system.name}/{kind} {keys}: {system.configs[function]}")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    plan = cases(sizes, args.concurrency, args.claim_batch)
    if args.only:
        wanted = set(args.only.split(","))
        plan = [c for c in plan if c.key in wanted or c.function in wanted]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    targets, skipped = targets_for(args, workdir)
    skipped += workload_notes(targets, plan)
    outcome = Outcome(plan=plan, runs=args.runs, quick=args.quick, skipped=skipped, load_before=os.getloadavg())
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for system, kind, stores in targets:
                for case in plan:
                    if not system.runs(case.function):
                        continue  # listed once in the notes (see below)
                    label = f"[run {run}/{args.runs}] {system.name}/{kind} {case.key}"
                    try:
                        figures = run_case(system, case, stores)
                    except Exception as exc:  # one failed run is reported, the rest go on
                        outcome.add_error(system.name, kind, case.key, str(exc))
                        print(f"{label}: FAILED: {exc}", flush=True)
                        continue
                    outcome.add(system.name, kind, case.key, figures)
                    shown = ", ".join(f"{k}={v:,.4g}" for k, v in figures.items() if isinstance(v, int | float))
                    print(f"{label}: {shown}", flush=True)
    finally:
        for _, _, stores in targets:
            stores.close()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    outcome.load_after = os.getloadavg()
    outcome.seconds = time.monotonic() - started
    render(outcome, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
