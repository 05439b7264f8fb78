"""Run-folder helpers that touch the process: importing them changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys


def test_import_does_not_set_the_umask():
    """Importing relu_study.runs.folders used to call os.umask twice to read the
    mask; a library import must leave process-wide state alone, even briefly."""
    code = ("import os\n"
            "calls = []\n"
            "real = os.umask\n"
            "os.umask = lambda m: calls.append(m) or real(m)\n"
            "import relu_study.runs.folders as f\n"
            "assert calls == [], calls\n"
            "mask = real(0o027); real(mask)\n"
            "assert f.process_umask() == mask, (f.process_umask(), mask)\n"
            "assert calls == [], calls\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_written_files_follow_the_umask(tmp_path):
    from relu_study.runs.folders import process_umask, write_json

    old = os.umask(0o027)
    try:
        assert process_umask() == 0o027
        write_json(tmp_path / "x.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o640
