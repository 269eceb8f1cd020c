"""The web dashboard: watch queues and jobs, retry, cancel, delete and purge them, pause queues.

Mounted by `create_api` at `/dashboard`; log in with an API key (its scope decides what you may do).
"""

from __future__ import annotations

from .routes import Dashboard, mount_dashboard

__all__ = ["Dashboard", "mount_dashboard"]
