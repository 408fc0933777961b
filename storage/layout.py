"""Where files live inside the library, keyed by content hash (shared by the DB and file helpers)."""

from __future__ import annotations

from pathlib import Path

from storage.paths import AppPaths

THUMB_SIZE = 256


def image_rel_path(sha: str, ext: str) -> str:
    """Path of an image relative to AppPaths.data, posix separators (what the `image.path` column stores)."""
    return f"images/{sha[:2]}/{sha[2:4]}/{sha}.{ext.lstrip('.').lower()}"


def thumb_path_for(paths: AppPaths, sha: str, size: int = THUMB_SIZE) -> Path:
    """The cached WebP thumbnail of an image: cache/thumbs/ab/cd/<sha>_256.webp."""
    return paths.thumbs_dir / sha[:2] / sha[2:4] / f"{sha}_{size}.webp"
