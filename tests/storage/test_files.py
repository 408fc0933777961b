"""Atomic writes and the content-addressed image store (architecture 9.3)."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from storage import files
from storage.files import ImageStore, atomic_write
from storage.imaging import verify_image
from storage.paths import AppPaths, StorageError
from tests.storage import samples


@pytest.fixture
def app_paths(tmp_path: Path) -> AppPaths:
    paths = AppPaths(data=tmp_path / "data", cache=tmp_path / "cache", logs=tmp_path / "logs")
    paths.ensure()
    return paths


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write(target, b"second" * 1000)
    assert target.read_bytes() == b"second" * 1000
    assert leftovers(target.parent) == []


def test_atomic_write_uses_normal_permissions(tmp_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("POSIX modes")
    target = tmp_path / "f"
    atomic_write(target, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def fail_with(code: int):  # noqa: ANN201 - small test helper
    def raiser(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code))
    return raiser


@pytest.mark.parametrize("patched", ["fsync", "write"])
def test_disk_full_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   patched: str) -> None:
    target = tmp_path / "image.png"
    target.write_bytes(b"old content")
    monkeypatch.setattr(files.os, patched, fail_with(errno.ENOSPC))
    with pytest.raises(StorageError, match="disk full"):
        atomic_write(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_partial_write_then_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls = []

    def short_then_full(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", short_then_full)
    with pytest.raises(StorageError, match="disk full"):
        atomic_write(tmp_path / "x", b"y" * 100)
    assert calls == [100, 90]
    assert list(tmp_path.iterdir()) == []


def test_read_only_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files.os, "open", fail_with(errno.EROFS))
    with pytest.raises(StorageError, match="read-only"):
        atomic_write(tmp_path / "x", b"data")


def test_permission_denied_folder(tmp_path: Path) -> None:
    if os.name == "nt" or os.geteuid() == 0:
        pytest.skip("needs POSIX permissions as a normal user")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="permission denied"):
            atomic_write(locked / "x", b"data")
    finally:
        locked.chmod(0o700)


def test_failed_rename_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a"
    target.write_bytes(b"old")
    monkeypatch.setattr(files.os, "replace", fail_with(errno.EIO))
    with pytest.raises(StorageError, match="cannot save a"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_durable_syncs_file_and_folder_cache_does_not(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write(tmp_path / "cache.webp", b"c", durable=False)
    assert synced == []
    atomic_write(tmp_path / "image.png", b"i", durable=True)
    assert len(synced) == (1 if os.name == "nt" else 2)  # the file, then its folder


def test_store_is_content_addressed(app_paths: AppPaths) -> None:
    data = samples.png(10, 10)
    stored = ImageStore(app_paths).store(data, verify_image(data))
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha
    assert stored.rel_path == f"images/{sha[:2]}/{sha[2:4]}/{sha}.png"
    assert stored.abs_path == app_paths.data / stored.rel_path
    assert stored.abs_path.read_bytes() == data
    assert stored.size == len(data)
    assert stored.created


def test_store_never_rewrites_identical_file(app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples.jpeg(10, 10)
    store = ImageStore(app_paths)
    first = store.store(data, verify_image(data))
    monkeypatch.setattr(files, "atomic_write", fail_with(errno.EIO))
    again = store.store(data, verify_image(data))
    assert again.abs_path == first.abs_path
    assert not again.created
    assert again.rel_path.endswith(".jpg")


def test_store_repairs_a_damaged_file(app_paths: AppPaths) -> None:
    data = samples.webp(10, 10)
    store = ImageStore(app_paths)
    first = store.store(data, verify_image(data))
    first.abs_path.write_bytes(data[:10])
    repaired = store.store(data, verify_image(data))
    assert repaired.created
    assert repaired.abs_path.read_bytes() == data


def test_store_on_full_disk_raises_storage_error(app_paths: AppPaths,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples.png(10, 10)
    monkeypatch.setattr(files.os, "fsync", fail_with(errno.ENOSPC))
    with pytest.raises(StorageError, match="disk full"):
        ImageStore(app_paths).store(data, verify_image(data))
    assert [p for p in app_paths.images_dir.rglob("*") if p.is_file()] == []
