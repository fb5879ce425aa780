"""The real command line, run in this process or as a subprocess, and how it ended."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from fedmarket.cli import app
from fedmarket.cli.errors import run_mapped


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def one_error_line(self) -> str:
        """The one ``error: ...`` line a failed command prints (asserts there is just one)."""
        lines = self.error_lines
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), lines[0]
        assert "Traceback" not in self.stderr
        return lines[0]


def run_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> Ran:
    """``fedmarket ARGS`` through :func:`run_mapped`, as the console script runs it."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["fedmarket", *args])
    with pytest.raises(SystemExit) as ended:
        run_mapped(app)
    out, err = capsys.readouterr()
    code = ended.value.code
    return Ran(code if isinstance(code, int) else (0 if code is None else 1), out, err)


def fedmarket(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 180
) -> Ran:
    """``python -m fedmarket ARGS`` in a separate process."""
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    return Ran(done.returncode, done.stdout, done.stderr)
