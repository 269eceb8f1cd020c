"""Medians, the Rich table on stdout, and bench/results/latest.md (+ latest.json with every run)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.plan import Case, Row

ROOT = Path(__file__).resolve().parent.parent
NOISE_NOTE = (
    "Medians of the runs above; the machine has few cores and may be shared, so single figures "
    "are noisy — compare medians, and rerun on a quiet machine for figures to quote."
)


@dataclass
class Outcome:
    plan: list[Case]
    runs: int
    quick: bool
    skipped: list[str]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0
    figures: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def add(self, system: str, store: str, case: str, figures: dict[str, Any]) -> None:
        self.figures.setdefault((system, store, case), []).append(figures)

    def add_error(self, system: str, store: str, case: str, message: str) -> None:
        self.errors.setdefault((system, store, case), []).append(message)

    def targets(self) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        for system, store, _ in [*self.figures, *self.errors]:
            if (system, store) not in seen:
                seen.append((system, store))
        return seen


@dataclass(frozen=True)
class Line:
    row: Row
    system: str
    store: str
    values: list[float]
    errors: list[str]

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("jobs/s",):
        return f"{value:,.0f}"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def lines(outcome: Outcome) -> list[Line]:
    out = []
    for system, store in outcome.targets():
        for case in outcome.plan:
            runs = outcome.figures.get((system, store, case.key), [])
            errors = outcome.errors.get((system, store, case.key), [])
            for row in case.rows:
                values = [float(r[row.figure]) for r in runs if row.figure in r]
                if not values and not errors:
                    continue  # a workload this system does not run (listed in the notes)
                out.append(Line(row, system, store, values, errors))
    return out


def verdicts(all_lines: list[Line]) -> dict[int, tuple[str, str]]:
    """For each line: (target text, pass/miss) — relative targets look at the same system/store."""
    rows = {line.row.key: line.row for line in all_lines}
    out: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(all_lines):
        target = line.row.target
        if target is None or line.system != "conveyor":  # issue 2's targets are Conveyor's
            out[i] = ("", "")
            continue
        medians = {
            other.row.key: other.median for other in all_lines
            if other.system == line.system and other.store == line.store and other.median is not None
        }
        text = target.describe(rows)
        if line.median is None:
            out[i] = (text, "no data")
            continue
        ok = target.passes(line.median, medians)
        limit = target.threshold(medians)
        close = limit is not None and limit != 0 and abs(line.median - limit) / abs(limit) < 0.1
        verdict = "—" if ok is None else ("pass" if ok else "MISS")
        out[i] = (text, f"{verdict} (close)" if close and ok is not None else verdict)
    return out


def ratios(all_lines: list[Line]) -> dict[int, str]:
    """For each line: how many times worse than the best system/store on the same row (1.00× is
    the best): best ÷ value for a rate (jobs/s), value ÷ best for a time (ms). Rows that no other
    system ran (or a ratio row, ×) get no ratio."""
    by_row: dict[str, list[int]] = {}
    for i, line in enumerate(all_lines):
        if line.median is not None and line.row.unit != "×":
            by_row.setdefault(line.row.key, []).append(i)
    out: dict[int, str] = {}
    for indexes in by_row.values():
        if len(indexes) < 2:
            continue
        medians = [all_lines[i].median or 0.0 for i in indexes]
        higher_better = all_lines[indexes[0]].row.unit == "jobs/s"
        best = max(medians) if higher_better else min(medians)
        for i, value in zip(indexes, medians, strict=True):
            if value <= 0 or best <= 0:
                continue
            ratio = best / value if higher_better else value / best
            out[i] = "best" if ratio == 1 else f"{ratio:.2f}× {'slower' if higher_better else 'longer'}"
    return out


def environment(outcome: Outcome) -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD") + (" (dirty)" if git("status", "--short", "conveyor") else ""),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_before": [round(x, 2) for x in outcome.load_before],
        "load_after": [round(x, 2) for x in outcome.load_after],
        "runs": outcome.runs,
        "quick": outcome.quick,
        "seconds": round(outcome.seconds, 1),
    }


def _details(outcome: Outcome) -> list[str]:
    """Figures the table does not show (start-up time, window, max latency …), as medians."""
    shown = {(case.key, row.figure) for case in outcome.plan for row in case.rows}
    out = []
    for (system, store, case), runs in outcome.figures.items():
        keys = [k for k in runs[0] if (case, k) not in shown and isinstance(runs[0][k], int | float)]
        if keys:
            parts = [f"{k} {statistics.median(float(r[k]) for r in runs):,.4g}" for k in keys]
            out.append(f"{system}/{store} {case}: " + ", ".join(parts))
    return out


def render(outcome: Outcome, md_path: Path) -> None:
    all_lines = lines(outcome)
    marks = verdicts(all_lines)
    versus = ratios(all_lines)
    env = environment(outcome)
    title = f"Conveyor benchmark — median of {outcome.runs} run(s){' (QUICK sizes)' if outcome.quick else ''}"
    table = Table(title=title, title_justify="left")
    headers = ["Workload", "Measured", "System/store", "Median", "Runs (min–max)", "Unit", "vs best",
               "Target", "Result"]
    for h in headers:
        table.add_column(h, justify="right" if h in ("Median", "Runs (min–max)") else "left",
                         overflow="fold")
    md = [f"# {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for i, line in enumerate(all_lines):
        unit = line.row.unit
        spread = f"{_fmt(min(line.values), unit)}–{_fmt(max(line.values), unit)}" if line.values else ""
        if line.errors:
            spread += f" ({len(line.errors)} failed)"
        target, verdict = marks[i]
        cells = [line.row.workload, line.row.label, f"{line.system}/{line.store}", _fmt(line.median, unit),
                 spread, unit, versus.get(i, ""), target, verdict]
        style = "red" if verdict.startswith(("MISS", "no data")) else ("yellow" if "close" in verdict else None)
        table.add_row(*cells, style=style)
        md.append("| " + " | ".join(cells) + " |")
    console = Console(width=max(140, Console().width))
    console.print(table)
    notes = [NOISE_NOTE, *outcome.skipped, *_details(outcome)]
    for (system, store, case), errors in outcome.errors.items():
        notes.extend(f"{system}/{store} {case} failed: {e}" for e in errors)
    for note in notes:
        console.print(f"• {note}", highlight=False)
    env_text = ", ".join(f"{k} {v}" for k, v in env.items())
    console.print(f"• environment: {env_text}", highlight=False)
    md += ["", *[f"- {n}" for n in notes], f"- environment: {env_text}", ""]
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text("\n".join(md))
    raw = {
        "environment": env,
        "skipped": outcome.skipped,
        "runs": [{"system": s, "store": st, "case": c, "figures": f} for (s, st, c), f in outcome.figures.items()],
        "errors": [{"system": s, "store": st, "case": c, "errors": e} for (s, st, c), e in outcome.errors.items()],
    }
    md_path.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    console.print(f"• written: {md_path} (+ .json with every run)", highlight=False)
