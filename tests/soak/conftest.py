"""Soak tests: the full-size versions of tests/reliability, skipped unless ORGFEED_SOAK=1.

Run them with `ORGFEED_SOAK=1 pytest tests/soak` (about 10 minutes on two idle cores; check that the
machine is otherwise idle). They share their code with tests/reliability, at larger sizes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SOAK = os.environ.get("ORGFEED_SOAK") == "1"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if SOAK:
        return
    skip = pytest.mark.skip(reason="soak test: run with `ORGFEED_SOAK=1 pytest tests/soak`")
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)
