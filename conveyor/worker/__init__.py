"""The worker: fetcher → executor → completer, with leases, rescue and graceful shutdown."""

from .lifecycle import Worker, run_worker

__all__ = ["Worker", "run_worker"]
