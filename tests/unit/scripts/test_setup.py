"""scripts/setup never records a failed install as done.

The script runs in a copy of the project whose virtual environment is a fake ``python`` that
fails every ``pip install``: setup must exit non-zero and leave no stamp, so the next run retries.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

FAKE_PYTHON = """#!/usr/bin/env bash
# pip fails; everything else (the torch probe) succeeds.
if [[ "$1" == "-m" && "$2" == "pip" ]]; then
  echo "ERROR: No matching distribution found for not-a-package" >&2
  exit 1
fi
exit 0
"""


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("setup", "_env.sh"):
        shutil.copy2(ROOT / "scripts" / name, project / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return project


def test_setup_fails_and_stamps_nothing_when_pip_fails(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    result = subprocess.run(
        ["bash", "scripts/setup"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode != 0
    assert "No matching distribution" in result.stderr
    assert "pip install" in result.stderr and "failed" in result.stderr
    assert not (project / ".tools" / "stamps" / "python").exists()
