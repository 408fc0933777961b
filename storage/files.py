"""Atomic, content-addressed image files (architecture 9.3). Blocking: callers use a worker thread."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from storage.imaging import ImageInfo
from storage.layout import image_rel_path
from storage.paths import AppPaths, StorageError

log = logging.getLogger(__name__)

_REPLACE_RETRIES = 5  # Windows: os.replace fails while another process (a viewer, AV) holds the target open
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def describe_os_error(exc: OSError, path: Path) -> str:
    """One user-facing sentence for a write failure; the named cases are the ones users can act on."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"cannot save {path.name}: disk full (no space left in {path.parent})"
    if exc.errno == errno.EROFS:
        return f"cannot save {path.name}: the folder {path.parent} is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot save {path.name}: permission denied for {path.parent} (read-only folder?)"
    return f"cannot save {path.name} in {path.parent}: {exc.strerror or exc}"


def _replace(src: str, dst: Path) -> None:
    for attempt in range(_REPLACE_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == _REPLACE_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable on POSIX. Windows has no directory fsync; some file systems refuse it."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # EINVAL on some network/FUSE file systems: the data itself is already synced
        log.debug("directory fsync not supported for %s: %s", folder, exc)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so readers see the old file or the whole new one, never a partial file.

    Temp file in the same folder -> write -> fsync (if durable) -> os.replace -> directory fsync (if durable,
    POSIX). On any failure the temp file is removed, the old file is untouched and StorageError is raised.
    Caches pass durable=False: a torn cache file after a power loss is just a cache miss.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = -1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _WRITE_FLAGS, 0o666)  # 0o666 & ~umask, like any normal file
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        _replace(str(tmp), path)
    except OSError as exc:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise StorageError(describe_os_error(exc, path)) from None
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    rel_path: str  # relative to AppPaths.data, posix separators (the DB column)
    abs_path: Path
    size: int
    created: bool  # False when an identical file was already in the library


class ImageStore:
    """Content-addressed image files under AppPaths.data/images. Thread-safe: names are hashes and every write
    is an atomic rename, so two threads storing the same bytes both end with the same complete file."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths

    def abs_path(self, rel_path: str) -> Path:
        return self.paths.data / rel_path

    def store(self, data: bytes, info: ImageInfo) -> StoredFile:
        """Write the bytes once under their SHA-256 name; an existing file of that size is never rewritten.

        A same-named file of another size can only be damage (names are content hashes), so it is replaced.
        """
        sha = hashlib.sha256(data).hexdigest()
        rel = image_rel_path(sha, info.ext)
        target = self.abs_path(rel)
        try:
            existing = target.stat().st_size
        except FileNotFoundError:
            existing = None
        except OSError as exc:
            message = f"cannot read the library folder {target.parent}: {exc.strerror or exc}"
            raise StorageError(message) from None
        if existing == len(data):
            return StoredFile(sha, rel, target, len(data), created=False)
        if existing is not None:
            log.warning("replacing damaged library file %s (%d bytes, expected %d)", rel, existing, len(data))
        atomic_write(target, data, durable=True)
        return StoredFile(sha, rel, target, len(data), created=True)
