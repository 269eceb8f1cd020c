"""`python -m chaos`: run the chaos scenarios and print their tables (exit 1 if any check fails)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console

from .api import ApiConfig, run_api
from .diskfull import DiskFullConfig, run_disk_full
from .drain import DrainConfig, run_drain
from .report import ScenarioReport, markdown, print_reports
from .stores import POSTGRES, SQLITE, StoreTarget, postgres_base_url, postgres_store, postgres_unreachable, sqlite_store

SCENARIOS = ("drain", "api", "disk-full")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    p.add_argument("--jobs", type=int, default=10_000, help="jobs to drain, and POSTs in the API scenario [10000]")
    p.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both", help="[both]")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="drain: inject faults for at most this long (then only recovery is awaited) [60]")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--job-ms", type=float, default=5.0, help="drain: how long each job sleeps [5]")
    p.add_argument("--concurrency", type=int, default=10, help="drain: jobs per worker process [10]")
    p.add_argument("--processes", type=int, default=4, help="drain: worker processes [4]")
    p.add_argument("--kill-every", type=float, default=2.0, help="drain: seconds between SIGKILLs [2]")
    p.add_argument("--lease", type=float, default=2.0, help="drain: lease seconds [2]")
    p.add_argument("--max-crashes", type=int, default=10,
                   help="drain: worker deaths a job survives before WORKER_CRASHED [10; the product's default is 3]")
    p.add_argument("--seed", type=int, default=None, help="drain: seed for picking the victims")
    p.add_argument("--disk-rlimit", action="store_true", help="disk-full: use the RLIMIT_FSIZE fallback, not tmpfs")
    p.add_argument("--markdown", type=Path, help="also write the tables into this Markdown file: between "
                   "<!-- chaos:begin SECTION --> and <!-- chaos:end SECTION --> (appended if missing)")
    p.add_argument("--section", default="main", help="which marked section --markdown replaces [main]")
    p.add_argument("--keep", action="store_true", help="keep the run folder (logs, databases) even if all passed")
    return p


@contextlib.contextmanager
def _target(kind: str, folder: Path) -> Iterator[StoreTarget]:
    if kind == SQLITE:
        with sqlite_store(folder) as target:
            yield target
    else:
        with postgres_store(postgres_base_url()) as target:
            yield target


def _run(args: argparse.Namespace, root: Path, console: Console) -> list[ScenarioReport]:
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    kinds = {"sqlite": [SQLITE], "postgres": [POSTGRES], "both": [SQLITE, POSTGRES]}[args.store]
    drain = DrainConfig(jobs=args.jobs, processes=args.processes, concurrency=args.concurrency,
                        lease_seconds=args.lease, kill_every=args.kill_every, job_ms=args.job_ms,
                        fault_seconds=args.seconds, max_crashes=args.max_crashes, seed=args.seed)
    runners: dict[str, Callable[[Path, StoreTarget], ScenarioReport]] = {
        "drain": lambda folder, target: run_drain(folder, target, drain),
        "api": lambda folder, target: run_api(folder, target, ApiConfig(requests=args.jobs)),
    }
    reports: list[ScenarioReport] = []
    for kind in kinds:
        unreachable = postgres_unreachable(postgres_base_url()) if kind == POSTGRES else None
        for scenario in (s for s in wanted if s in runners):
            folder = root / f"{scenario}-{kind}"
            if unreachable is not None:
                reports.append(ScenarioReport(scenario, "PostgreSQL", f"{scenario} · PostgreSQL", skipped=unreachable))
                continue
            console.print(f"[bold]running {scenario} on {kind}[/bold] (logs in {folder})")
            with _target(kind, folder) as target:
                reports.append(runners[scenario](folder, target))
    if "disk-full" in wanted and SQLITE in kinds:
        console.print(f"[bold]running disk-full on sqlite[/bold] (logs in {root / 'disk-full'})")
        reports.append(run_disk_full(root / "disk-full", DiskFullConfig(force_rlimit=args.disk_rlimit)))
    return reports


def write_markdown(path: Path, section: str, tables: str) -> None:
    begin, end = f"<!-- chaos:begin {section} -->", f"<!-- chaos:end {section} -->"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = f"{head}{begin}\n{tables}{end}{tail}"
    else:  # a new section at the end: never overwrite the page's prose
        text = f"{text}\n{begin}\n{tables}{end}\n" if text else f"{begin}\n{tables}{end}\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)  # our own connections, during the restart
    console = Console(width=None if Console().is_terminal else 120)
    root = Path(tempfile.mkdtemp(prefix="conveyor-chaos-"))
    reports = _run(args, root, console)
    print_reports(reports, console)
    if args.markdown is not None:
        command = "python -m chaos " + " ".join(argv if argv is not None else sys.argv[1:])
        write_markdown(args.markdown, args.section, markdown(reports, command.strip()))
    ok = all(r.ok or r.skipped is not None for r in reports)
    if ok and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        console.print(f"run folder kept: {root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
