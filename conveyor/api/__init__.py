"""The HTTP API (SPEC §5): `create_api(app)` builds the FastAPI application."""

from .factory import create_api

__all__ = ["create_api"]
