"""Run folders: run-ID format, unique creation under concurrency, safe names, no overwrites."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.runfolder import (
    InvalidNameError,
    RunFolder,
    create_run_folder,
    latest_run_folder,
    list_run_folders,
    new_run_id,
    open_run_folder,
    validate_name,
)

FIXED_NOW = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=timezone.utc)


def test_new_run_id_format_is_utc_seconds():
    assert new_run_id(FIXED_NOW) == "2026-03-14T150926Z"


def test_new_run_id_converts_offset_to_utc():
    local = FIXED_NOW.astimezone(timezone(timedelta(hours=-5)))
    assert new_run_id(local) == "2026-03-14T150926Z"


def test_new_run_id_treats_naive_as_utc():
    assert new_run_id(FIXED_NOW.replace(tzinfo=None)) == "2026-03-14T150926Z"


def test_new_run_id_default_matches_pattern():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", new_run_id())


def test_create_run_folder_suffixes_same_second(tmp_path):
    ids = [create_run_folder(tmp_path, FIXED_NOW).run_id for _ in range(3)]
    assert ids == ["2026-03-14T150926Z", "2026-03-14T150926Z-2", "2026-03-14T150926Z-3"]


def test_create_run_folder_threads_get_distinct_folders(tmp_path):
    created: list[RunFolder] = []
    barrier = threading.Barrier(16)

    def create() -> None:
        barrier.wait()
        created.append(create_run_folder(tmp_path, FIXED_NOW))

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({folder.run_id for folder in created}) == 16
    assert all(folder.path.is_dir() for folder in created)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("..", "starts with '.'"),
        (".hidden", "starts with '.'"),
        ("/etc", "path separator"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("two words", "not allowed"),
        ("semi;colon", "not allowed"),
        ("ünïcode", "not allowed"),
        ("", "empty"),
        ("x" * 200, "maximum is 128"),
    ],
)
def test_validate_name_rejects_unsafe(name, message):
    with pytest.raises(InvalidNameError, match=re.escape(message)):
        validate_name(name, "focus")


def test_validate_name_message_names_kind_and_value():
    with pytest.raises(InvalidNameError, match=r"invalid label '\.\./x'"):
        validate_name("../x", "label")


@pytest.mark.parametrize("name", ["stitch-offsets", "a", "v1.2_fix", "-dash", "2026-03-14T150926Z"])
def test_validate_name_accepts_safe(name):
    assert validate_name(name) == name


@given(st.text(max_size=40))
def test_validate_name_accepted_is_single_child_property(name):
    try:
        validate_name(name)
    except InvalidNameError:
        return
    base = Path("/reports")
    assert (base / name).parent == base
    assert name not in {".", ".."}


def test_subfolder_rejects_parent_reference(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with pytest.raises(InvalidNameError, match="invalid focus '..'"):
        folder.subfolder("..")


def test_subfolder_creates_focus_folder(tmp_path):
    focus = create_run_folder(tmp_path, FIXED_NOW).subfolder("stitch")
    assert focus.path == tmp_path / "2026-03-14T150926Z" / "stitch"
    assert focus.path.is_dir()
    assert focus.focus == "stitch"


def test_write_text_never_overwrites(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    path = folder.write_text("summary.md", "first\n")
    with pytest.raises(FileExistsError, match="never overwritten"):
        folder.write_text("summary.md", "second\n")
    assert path.read_text() == "first\n"


def test_write_json_never_overwrites(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    folder.write_json("contracts.json", {"a": 1})
    with pytest.raises(FileExistsError, match="contracts.json already exists"):
        folder.write_json("contracts.json", {"a": 2})
    assert json.loads((folder.path / "contracts.json").read_text()) == {"a": 1}


def test_write_leaves_no_temporary_files(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    folder.write_bytes("data.bin", b"\x00\x01")
    with pytest.raises(FileExistsError, match="never overwritten"):
        folder.write_bytes("data.bin", b"\x02")
    assert sorted(p.name for p in folder.path.iterdir()) == ["data.bin"]


def test_write_rejects_file_name_with_separator(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with pytest.raises(InvalidNameError, match="invalid file name '../escape.txt'"):
        folder.write_text("../escape.txt", "x")
    assert not (tmp_path / "escape.txt").exists()


def test_write_file_is_readable_by_group(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    path = folder.write_text("summary.md", "x")
    assert path.stat().st_mode & 0o044, oct(path.stat().st_mode)


def test_replace_json_rewrites_manifest(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    folder.replace_json("manifest.json", {"status": "running"})
    folder.replace_json("manifest.json", {"status": "complete"})
    assert json.loads((folder.path / "manifest.json").read_text()) == {"status": "complete"}


def test_replace_json_rejects_other_files(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    with pytest.raises(ValueError, match="'evidence.json' may not be rewritten"):
        folder.replace_json("evidence.json", [])


def test_append_json_entry_keeps_every_entry_under_threads(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    threads = [
        threading.Thread(target=folder.append_json_entry, args=("evidence.json", {"n": n}))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = json.loads((folder.path / "evidence.json").read_text())
    assert sorted(entry["n"] for entry in entries) == list(range(20))


def test_append_json_entry_rejects_non_list(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    folder.write_json("evidence.json", {"not": "a list"})
    with pytest.raises(ValueError, match="contains a JSON dict, expected a list"):
        folder.append_json_entry("evidence.json", {})


def test_open_run_folder_missing_names_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder '2026-01-01T000000Z'"):
        open_run_folder(tmp_path, "2026-01-01T000000Z")


def test_open_run_folder_rejects_traversal(tmp_path):
    with pytest.raises(InvalidNameError, match="invalid run ID"):
        open_run_folder(tmp_path, "../outside")


def test_list_run_folders_orders_numeric_suffixes(tmp_path):
    for name in ["2026-01-01T000000Z-10", "2026-01-01T000000Z", "2026-01-01T000000Z-2", "notes", "2025-12-31T235959Z"]:
        (tmp_path / name).mkdir()
    (tmp_path / "README.md").write_text("x")
    ids = [folder.run_id for folder in list_run_folders(tmp_path)]
    assert ids == ["2025-12-31T235959Z", "2026-01-01T000000Z", "2026-01-01T000000Z-2", "2026-01-01T000000Z-10"]


def test_latest_run_folder_filters_by_focus(tmp_path):
    older = create_run_folder(tmp_path, FIXED_NOW)
    older.subfolder("stitch")
    create_run_folder(tmp_path, FIXED_NOW + timedelta(seconds=1))
    assert latest_run_folder(tmp_path).run_id == "2026-03-14T150927Z"
    assert latest_run_folder(tmp_path, focus="stitch").run_id == older.run_id
    assert latest_run_folder(tmp_path, focus="other") is None


def test_latest_run_folder_missing_root_is_none(tmp_path):
    assert latest_run_folder(tmp_path / "absent") is None


def test_read_json_returns_written_document(tmp_path):
    folder = create_run_folder(tmp_path, FIXED_NOW)
    folder.write_json("contracts.json", {"stages": [1, 2]})
    assert folder.read_json("contracts.json") == {"stages": [1, 2]}
