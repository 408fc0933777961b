"""What the Queue dock and the prompt history read of the generation stack, and the job commands they run.

Plain Python, no Qt: job events reach the queue through `GenerateViewModel.jobEvent` (already on the GUI
thread); these are the reads and commands behind it, so the views never hold the GenerationService.
"""

from __future__ import annotations

from typing import Any

from desktop.services.generation import GenerationService
from desktop.services.library import LibraryService
from desktop.viewmodels.records import ImageQuery, ImageRow, JobRecord
from providers.catalogue import Capabilities

__all__ = ["GenerationLibrary", "QueueViewModel"]


class QueueViewModel:
    """The job journal and the job service, as the queue needs them."""

    def __init__(self, generation: GenerationService) -> None:
        self._generation = generation

    def recent_jobs(self, limit: int) -> list[JobRecord]:
        """Newest first, as the journal keeps them."""
        return self._generation.journal.recent(limit)

    def job(self, job_id: int) -> JobRecord | None:
        return self._generation.journal.get(job_id)

    def capabilities(self, provider_id: str, model_id: str) -> Capabilities | None:
        """None for a provider the catalogue no longer has (a job journalled by an older version)."""
        catalogue = self._generation.catalogue
        return catalogue.capabilities(provider_id, model_id) if provider_id in catalogue else None

    def is_running(self, job_id: int) -> bool:
        return job_id in self._generation.jobs.running

    def cancel(self, job_id: int) -> str:
        """Cancel a job; returns the billing note (what the provider may still charge)."""
        return self._generation.jobs.cancel(job_id)

    def retry(self, job_id: int) -> int:
        return self._generation.jobs.retry(job_id)


class GenerationLibrary:
    """The library reads the generation UI makes: images to reuse, their request metadata and thumbnails,
    and the prompts of past jobs and images for the prompt history."""

    def __init__(self, generation: GenerationService, library: LibraryService) -> None:
        self._generation = generation
        self._library = library

    def image(self, image_id: int) -> ImageRow | None:
        return self._library.get(image_id)

    def image_meta(self, image_id: int) -> dict[str, Any]:
        return self._library.image_meta(image_id)

    def thumb_path(self, image_id: int) -> str | None:
        """The image's thumbnail file, else the image itself, else None (not in the library)."""
        row = self._library.get(image_id)
        return row.thumb_path if row is not None and row.thumb_path else (row.path if row else None)

    def past_prompts(self, limit: int) -> list[str]:
        """Prompts of recent jobs (journal) and library images, newest first; duplicates are kept."""
        jobs = [(r.created_at, str(r.request.get("prompt", ""))) for r in self._generation.journal.recent(limit)]
        images = [(r.created_at, r.prompt) for r in self._library.library.list(ImageQuery(), limit=limit)]
        merged = sorted(jobs + images, key=lambda pair: pair[0], reverse=True)
        return [prompt for _, prompt in merged]
