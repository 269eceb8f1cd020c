"""Loads a dialect's `queries/*.sql` and `migrations/*.sql` once; Python holds no SQL strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Queries(dict[str, str]):
    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no query file {name}.sql") from None


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_queries(package: str) -> Queries:
    folder = resources.files(package) / "queries"
    return Queries(
        {
            entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8")
            for entry in folder.iterdir()
            if entry.name.endswith(".sql")
        }
    )


def load_migrations(package: str) -> list[Migration]:
    folder = resources.files(package) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migrations of {package} skip version {expected}")
    return found
