"""Run manifests: environment record, git state, and the status a run ends with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone

import pytest

from harness.manifest import (
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    Manifest,
    collect_environment,
    git_state,
)
from harness.runfolder import create_run_folder

FIXED_NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)
STUB_ENVIRONMENT = {"stub": True}


def read_manifest(folder) -> dict:
    return json.loads((folder.path / "manifest.json").read_text())


def test_collect_environment_does_not_import_torch():
    code = (
        "import json, sys; from harness.manifest import collect_environment; "
        "env = collect_environment(); print(json.dumps({'env': env, 'torch': 'torch' in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["torch"] is False
    env = document["env"]
    assert env["python"]["version"].count(".") == 2
    assert env["packages"]["pytest"]
    assert env["packages"]["torch"]
    assert env["cpu"]["logical_cores"] >= 1
    assert set(env["threads"]) >= {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert set(env["git"]) == {"commit", "dirty"}


def test_collect_environment_records_thread_variables(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert collect_environment()["threads"]["OMP_NUM_THREADS"] == "3"


def test_git_state_outside_repository_is_null(tmp_path):
    state = git_state(tmp_path)
    assert state.commit is None
    assert state.dirty is None


def test_git_state_without_git_is_null(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    state = git_state(tmp_path)
    assert state.commit is None
    assert state.dirty is None


def test_git_state_tracks_commit_and_dirty(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    clean = git_state(tmp_path)
    assert clean.commit is not None and len(clean.commit) == 40
    assert clean.dirty is False
    (tmp_path / "a.txt").write_text("changed")
    assert git_state(tmp_path).dirty is True


def test_manifest_running_then_complete(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with Manifest(folder, ["ptycho-harness", "bench"], seeds={"numpy": 7}, environment=STUB_ENVIRONMENT):
        during = read_manifest(folder)
    after = read_manifest(folder)
    assert during["status"] == STATUS_RUNNING
    assert during["finished_at"] is None
    assert after["status"] == STATUS_COMPLETE
    assert after["command"] == ["ptycho-harness", "bench"]
    assert after["seeds"] == {"numpy": 7}
    assert after["run_id"] == folder.run_id
    assert after["finished_at"] >= after["started_at"]


def test_manifest_exception_marks_failed(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with pytest.raises(RuntimeError, match="boom"):
        with Manifest(folder, ["x"], environment=STUB_ENVIRONMENT):
            raise RuntimeError("boom")
    manifest = read_manifest(folder)
    assert manifest["status"] == STATUS_FAILED
    assert manifest["details"]["error"] == "RuntimeError: boom"


def test_manifest_keyboard_interrupt_marks_interrupted(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with pytest.raises(KeyboardInterrupt):
        with Manifest(folder, ["x"], environment=STUB_ENVIRONMENT):
            raise KeyboardInterrupt
    assert read_manifest(folder)["status"] == STATUS_INTERRUPTED


def test_manifest_explicit_finish_is_kept(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with Manifest(folder, ["x"], environment=STUB_ENVIRONMENT) as manifest:
        manifest.finish(STATUS_FAILED, regressions=2)
    manifest_document = read_manifest(folder)
    assert manifest_document["status"] == STATUS_FAILED
    assert manifest_document["details"] == {"regressions": 2}


def test_manifest_finish_rejects_unknown_status(tmp_path):
    manifest = Manifest(create_run_folder(tmp_path, FIXED_NOW), ["x"], environment=STUB_ENVIRONMENT)
    manifest.start()
    with pytest.raises(ValueError, match="invalid manifest status 'done'"):
        manifest.finish("done")
    manifest.finish(STATUS_COMPLETE)


def test_manifest_restores_sigterm_handler(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with Manifest(create_run_folder(tmp_path, FIXED_NOW), ["x"], environment=STUB_ENVIRONMENT):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_manifest_sigterm_marks_interrupted(tmp_path):
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from harness.manifest import Manifest
        from harness.runfolder import RunFolder

        folder = RunFolder(path=Path({str(tmp_path)!r}), run_id="run")
        with Manifest(folder, ["long-step"], environment={{"stub": True}}):
            Path({str(tmp_path / "started")!r}).write_text("yes")
            time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the child never started its long step"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGTERM)
    exit_code = process.wait(timeout=60)
    stderr = process.stderr.read()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == STATUS_INTERRUPTED, stderr
    assert manifest["details"]["reason"] == "RunTerminated"
    assert exit_code == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
