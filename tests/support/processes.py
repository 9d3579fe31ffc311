"""`orgfeed` run as a user runs it: a process of this interpreter in the repository, and the summary it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORGFEED = [sys.executable, "-m", "app"]


def run_orgfeed(env: dict[str, str], *args: str, timeout: float = 280) -> subprocess.CompletedProcess:
    """Runs `orgfeed ARGS` to the end with `env`; its output as text."""
    return subprocess.run([*ORGFEED, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def summary_of(result: subprocess.CompletedProcess) -> dict:
    """The final `summary` JSON line of `orgfeed sync --json`."""
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary", result.stdout[-2000:]
    return summary
