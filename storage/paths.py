"""Where the library lives: platformdirs by default, `--data-dir DIR` or `IMAGES_STUDIO_HOME` to override."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "AI Images Studio"
HOME_ENV = "IMAGES_STUDIO_HOME"


class StorageError(Exception):
    """A storage problem worded for the user (read-only folder, full disk, corrupt database)."""


@dataclass(frozen=True)
class AppPaths:
    data: Path
    cache: Path
    logs: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> AppPaths:
        env = os.environ if env is None else env
        chosen = data_dir or env.get(HOME_ENV)
        if chosen:
            root = Path(chosen).expanduser().resolve()
            return cls(data=root, cache=root / "cache", logs=root / "logs")
        import platformdirs

        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        return cls(data=Path(dirs.user_data_dir), cache=Path(dirs.user_cache_dir), logs=Path(dirs.user_log_dir))

    @property
    def db_path(self) -> Path:
        return self.data / "library.sqlite3"

    @property
    def images_dir(self) -> Path:
        return self.data / "images"

    @property
    def thumbs_dir(self) -> Path:
        return self.cache / "thumbs"

    @property
    def backups_dir(self) -> Path:
        return self.data / "backups"

    def ensure(self) -> None:
        """Create the folders; a read-only or missing location becomes one clear StorageError."""
        for folder in (self.data, self.cache, self.logs, self.images_dir, self.thumbs_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None
        if not os.access(self.data, os.W_OK):
            raise StorageError(f"the library folder {self.data} is read-only")
