"""Contract: migrations — versioned, idempotent, safe to race, and a fresh schema equals the
migration files applied one by one (as older releases would have left the database)."""

from __future__ import annotations

import threading

from conveyor.store import Store
from conveyor.store.queries import load_migrations
from tests.store_contract.conftest import Backend, get, insert, new_job


def test_fresh_database_has_version_zero_until_migrated(backend: Backend) -> None:
    store = backend.open(migrate=False)
    assert store.schema_version() == 0
    store.migrate()
    assert store.schema_version() == store.latest_version() >= 1


def test_migrate_is_idempotent_and_keeps_data(backend: Backend) -> None:
    store = backend.open()
    [(job, _)] = insert(store, new_job())
    before = backend.snapshot(backend.url)
    store.migrate()
    backend.open().migrate()  # another process, same database
    assert store.schema_version() == store.latest_version()
    assert backend.snapshot(backend.url) == before
    assert get(store, job.job_id).job_id == job.job_id


def test_latest_version_matches_the_migration_files(backend: Backend) -> None:
    store = backend.open(migrate=False)
    files = load_migrations(backend.package)
    assert [m.version for m in files] == list(range(1, len(files) + 1))
    assert store.latest_version() == files[-1].version


def test_fresh_schema_equals_all_migrations_applied_one_by_one(backend: Backend) -> None:
    fresh_url = backend.make_url()
    backend.open(fresh_url)
    fresh = backend.snapshot(fresh_url)
    latest = len(load_migrations(backend.package))
    for applied_before in range(latest + 1):
        url = backend.make_url()
        backend.apply_by_hand(url, up_to=applied_before)
        store = backend.open(url, migrate=False)
        assert store.schema_version() == applied_before
        store.migrate()  # upgrades from there
        assert store.schema_version() == latest
        assert backend.snapshot(url) == fresh, f"schema upgraded from v{applied_before} differs from a fresh one"


def test_concurrent_migrations_apply_each_version_once(backend: Backend) -> None:
    stores = [backend.open(migrate=False) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def migrate(store: Store) -> None:
        try:
            barrier.wait(5)
            store.migrate()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert all(s.schema_version() == s.latest_version() for s in stores)
    versions = backend.raw(backend.url, "SELECT version FROM conveyor_schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, stores[0].latest_version() + 1))
