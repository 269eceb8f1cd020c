"""Fixtures for webhook tests: a real HTTP receiver on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that is up and answers 200."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def down_receiver() -> Iterator[Receiver]:
    """A receiver whose port is closed until the test calls `start()`."""
    r = Receiver()
    yield r
    r.stop()
