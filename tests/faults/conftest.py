"""The fault tests' own processes (tests/faults/rig.py), started once for the package, all Rasa servers at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.scale import DEFAULT_POSTGRES_URL
from hotline.settings import Settings
from tests.faults.rig import Rig, rig


@pytest.fixture(scope="package")
def started_rig(settings: Settings, model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    admin_url = os.environ.get("HOTLINE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    with rig(settings, model, tmp_path_factory.mktemp("faults"), admin_url) as started:
        yield started


@pytest.fixture
def faults(started_rig: Rig) -> Iterator[Rig]:
    """The rig, and everything in it up again after the test, whatever the test killed."""
    yield started_rig
    started_rig.restore()
