"""Shared fixtures for the storage tests: a fresh library in tmp_path, and image records with real files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.db import close_database, open_database
from storage.layout import image_rel_path, thumb_path_for
from storage.library import Library
from storage.paths import AppPaths
from storage.records import ImageRecord


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    paths = AppPaths.resolve(tmp_path / "home")
    paths.ensure()
    db = open_database(paths.db_path)
    try:
        yield Library(db, paths)
    finally:
        close_database(db)


def make_record(n: int, **overrides: Any) -> ImageRecord:
    """A distinct record (sha derived from n); no file on disk."""
    sha = hashlib.sha256(f"image-{n}".encode()).hexdigest()
    values: dict[str, Any] = {
        "sha256": sha, "path": image_rel_path(sha, "png"), "format": "PNG", "width": 64, "height": 48,
        "file_size": 100, "provider": "openai", "model": "gpt-image-1", "prompt": f"image number {n}",
        "created_at": 1_700_000_000.0 + n,
    }
    values.update(overrides)
    return ImageRecord(**values)


def add_with_file(library: Library, n: int, *, thumb: bool = True, **overrides: Any) -> int:
    """Add a record whose image file (and thumbnail) really exist, so file-level behaviour can be checked."""
    record = make_record(n, **overrides)
    target = library.paths.data / record.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(f"PNG-BYTES-{n}".encode() * 10)
    if thumb:
        thumb_file = thumb_path_for(library.paths, record.sha256)
        thumb_file.parent.mkdir(parents=True, exist_ok=True)
        thumb_file.write_bytes(b"webp")
    image_id, created = library.add_image(record)
    assert created
    return image_id
