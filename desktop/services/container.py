"""The services the window needs, built in one place (called by the composition root and by tests)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from desktop.services.library import LibraryService
from providers.catalogue import Catalogue
from storage.db import close_database, open_database
from storage.imaging import configure_pillow
from storage.library import Library
from storage.paths import AppPaths

log = logging.getLogger(__name__)


@dataclass
class AppServices:
    paths: AppPaths
    library: LibraryService
    catalogue: Catalogue
    executor: ThreadPoolExecutor
    db: Any
    extras: dict[str, Any] = field(default_factory=dict)  # later services (jobs, keys, usage) register here

    async def aclose(self) -> None:
        for service in self.extras.values():
            closer = getattr(service, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    log.exception("closing %s failed", type(service).__name__)
        self.close()

    def close(self) -> None:
        # Never wait for worker threads at exit (qasync issue #115); pending work is cancelled.
        self.executor.shutdown(wait=False, cancel_futures=True)
        close_database(self.db)


def build_services(paths: AppPaths, *, workers: int = 2) -> AppServices:
    """Open the library at `paths` (creating it, migrating it) and wire the services over it."""
    configure_pillow()
    paths.ensure()
    db = open_database(paths.db_path)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio-worker")
    library = LibraryService(Library(db, paths), paths, executor)
    return AppServices(paths=paths, library=library, catalogue=Catalogue.load(), executor=executor, db=db)
