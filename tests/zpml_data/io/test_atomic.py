"""Atomic writes: durable after a power loss, and the umask never touched."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from zpml_data.io import atomic
from zpml_data.io.atomic import atomic_path, atomic_write_text
from zpml_data.io.guard import current_umask, new_file_mode


def _umask_from_proc() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask line")


def test_the_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    events: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode)))
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        events.append(("replace", None))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic_write_text(tmp_path / "a.json", "{}")
    # The file's data before the rename, the directory entry after it.
    assert events == [("fsync", False), ("replace", None), ("fsync", True)]
    assert (tmp_path / "a.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the umask from /proc")
def test_writing_files_never_changes_the_umask_even_briefly(tmp_path):
    old = os.umask(0o027)
    try:
        seen: set[int] = set()
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.add(_umask_from_proc())

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for i in range(200):
                atomic_write_text(tmp_path / f"f{i % 3}.txt", str(i))
                new_file_mode()
        finally:
            done.set()
            watcher.join()
        assert seen == {0o027}
        assert current_umask() == 0o027
        assert stat.S_IMODE((tmp_path / "f0.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_open_s(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.txt"
    atomic_write_text(fresh, "x")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~current_umask()


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("stop")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


def test_no_write_path_calls_os_umask(tmp_path, monkeypatch):
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask sets the mask for every thread")

    monkeypatch.setattr(os, "umask", forbidden)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert new_file_mode() == 0o666 & ~current_umask()
