"""Flower interop tests: the fedquick app (quickstart/) importable here and in Flower's workers.

The tests skip when flwr (the ``flower`` extra, installed by ``scripts/setup``) is not importable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

APP_DIR = Path(__file__).parent / "quickstart"

pytest.importorskip("flwr", reason="flwr is not installed (the 'flower' extra)")


@pytest.fixture(scope="module", autouse=True)
def fedquick_importable() -> Iterator[None]:
    """``fedquick`` on sys.path, and on PYTHONPATH for the processes Ray and Flower start."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(APP_DIR))
        paths = [str(APP_DIR), *sys.path]
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        yield
