"""What a scenario found: rows of measured values, each a pass/fail check or plain information,
rendered as Rich tables for the terminal and as Markdown for docs/chaos.md."""

from __future__ import annotations

import datetime
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Row:
    """One measured value. `ok` is None for information, else whether it met `expect`."""

    label: str
    value: str
    expect: str = ""
    ok: bool | None = None


def check(label: str, value: float, limit: float, *, at_most: bool = True, fmt: str = "{:,.0f}") -> Row:
    """A row that passes when `value` ≤ `limit` (or == `limit` when the limit is 0)."""
    shown = fmt.format(value)
    if at_most and limit == 0:
        return Row(label, shown, "= 0", value == 0)
    if at_most:
        return Row(label, shown, f"≤ {fmt.format(limit)}", value <= limit)
    return Row(label, shown, f"≥ {fmt.format(limit)}", value >= limit)


def info(label: str, value: str) -> Row:
    return Row(label, value)


@dataclass(slots=True)
class ScenarioReport:
    scenario: str
    store: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the scenario did not run (then it neither passes nor fails)

    @property
    def ok(self) -> bool:
        return self.skipped is None and all(row.ok is not False for row in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.ok is False]

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return "SKIPPED"
        return "PASS" if self.ok else "FAIL"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def _style(ok: bool | None) -> str:
    return "" if ok is None else ("green" if ok else "bold red")


def print_reports(reports: Sequence[ScenarioReport], console: Console | None = None) -> None:
    console = console or Console(width=None if Console().is_terminal else 120)
    for report in reports:
        table = Table(title=f"{report.title}  [{report.verdict}]", title_justify="left", expand=False)
        table.add_column("Measure")
        table.add_column("Value", justify="right")
        table.add_column("Must be", justify="right")
        table.add_column("Result")
        if report.skipped is not None:
            table.add_row("skipped", report.skipped, "", "")
        for row in report.rows:
            table.add_row(row.label, row.value, row.expect, _mark(row.ok), style=_style(row.ok))
        console.print(table)
        for note in report.notes:
            console.print(f"  note: {note}", style="dim")
        console.print()
    summary = Table(title="Chaos summary", title_justify="left")
    summary.add_column("Scenario")
    summary.add_column("Store")
    summary.add_column("Result")
    summary.add_column("Failed checks")
    for report in reports:
        failed = ", ".join(row.label for row in report.failures) or (report.skipped or "")
        summary.add_row(report.scenario, report.store, report.verdict, failed,
                        style=_style(None if report.skipped else report.ok))
    console.print(summary)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(reports: Sequence[ScenarioReport], command: str) -> str:
    """The tables as Markdown, headed by how and where they were produced."""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Produced by `{command}` on {when} ({platform.system()} {platform.machine()}, "
             f"Python {platform.python_version()}).", ""]
    lines += ["| Scenario | Store | Result |", "|---|---|---|"]
    lines += [f"| {r.scenario} | {r.store} | {r.verdict} |" for r in reports]
    for report in reports:
        lines += ["", f"#### {_md_cell(report.title)} — {report.verdict}", ""]
        if report.skipped is not None:
            lines += [f"Skipped: {_md_cell(report.skipped)}", ""]
            continue
        lines += ["| Measure | Value | Must be | Result |", "|---|---:|---:|---|"]
        lines += [f"| {_md_cell(r.label)} | {_md_cell(r.value)} | {_md_cell(r.expect)} | {_mark(r.ok)} |"
                  for r in report.rows]
        if report.notes:
            lines.append("")
            lines += [f"- {_md_cell(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"
