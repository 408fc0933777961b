"""Wires providers to storage: builds the JobService whose results land in the library (no Qt)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from desktop.services.jobs import JobService
from desktop.services.library import LibraryService
from desktop.services.provider_factory import ProviderFactory
from desktop.services.styles import apply_style, load_presets
from providers.base import ImageRequest, ImageResult, InvalidResponse, ProviderError
from providers.catalogue import Catalogue
from storage.imaging import BadImage
from storage.importer import prepare_generated
from storage.paths import StorageError
from storage.journal import JobJournal


class LibraryWriteError(ProviderError):
    """The library could not store a finished image (full disk, read-only folder). Never a reason to
    fall back: another provider's image would fail the same way, and this one may already be paid for."""

    kind = "storage"


class GenerationService:
    """The job service plus what it needs: provider factory, styles, and saving images into the library."""

    def __init__(self, library: LibraryService, journal: JobJournal, catalogue: Catalogue,
                 factory: ProviderFactory, *, guard: Any = None, sleep: Any = asyncio.sleep,
                 concurrency: dict[str, int] | None = None) -> None:
        self.library = library
        self.journal = journal
        self.catalogue = catalogue
        self.factory = factory
        self.presets = load_presets()
        self.jobs = JobService(journal, catalogue, factory.get, self._save_images, guard=guard, sleep=sleep,
                               concurrency=concurrency)

    def styled(self, request: ImageRequest) -> ImageRequest:
        caps = self.catalogue.capabilities(request.provider, request.model)
        return apply_style(request, caps, self.presets) if caps else request

    def submit(self, request: ImageRequest, fallback: tuple[str, ...] | list[str] = (),
               collection: str | None = None) -> int:
        return self.jobs.submit(self.styled(request), fallback=fallback, collection=collection)

    async def _save_images(self, job_id: int, request: ImageRequest, result: ImageResult,
                           fallback_from: str) -> list[int]:
        record = self.journal.get(job_id)
        collection = record.request.get("collection") if record else None
        reported = result.cost_usd
        caps = self.catalogue.capabilities(request.provider, request.model)
        unit_estimate = caps.price_for(request.size, request.quality) if caps else None
        n = len(result.images)
        request_meta = request.to_metadata()
        loop = asyncio.get_running_loop()
        saved: list[int] = []
        model = result.model or request.model  # a local backend names the checkpoint it really used
        for image in result.images:
            cost = (reported / n) if reported is not None else unit_estimate
            try:
                prepared = await loop.run_in_executor(
                    self.library.executor, lambda img=image, c=cost: prepare_generated(
                        img.data, self.library.paths, provider=request.provider, model=model,
                        prompt=request.prompt, negative_prompt=request.negative_prompt,
                        seed=img.seed if img.seed is not None else request.seed,
                        revised_prompt=img.revised_prompt or "", cost_usd=c, request_id=result.request_id or "",
                        job_id=job_id, fallback_from=fallback_from, request=_request_json(request_meta, result),
                        # The job's time, not the clock: the same provider bytes saved again after a crash
                        # then embed identical metadata, hash the same and are recognised as a duplicate.
                        created_at=record.created_at if record else None,
                        extra_params=_extra_params(request)))
            except BadImage as exc:
                # Untrusted bytes: a provider's "image" that fails decoding never reaches the library.
                raise InvalidResponse(f"the provider sent an unusable image ({exc.reason})",
                                      provider=request.provider) from None
            except StorageError as exc:
                raise LibraryWriteError(f"the image could not be saved: {exc}", provider=request.provider) from None
            # Content addressing makes a resumed job that re-fetches an image a no-op, not a duplicate.
            image_id, added = self.library.add_prepared(prepared, collection=collection)
            if added:
                self.journal.add_saved(job_id)
            saved.append(image_id)
        return saved

    async def aclose(self) -> None:
        await self.jobs.aclose()
        await self.factory.aclose()


def _request_json(meta: Mapping[str, Any], result: ImageResult) -> dict[str, Any]:
    out = dict(meta)
    out["provider_request_id"] = result.request_id
    out["provider_cost_usd"] = result.cost_usd
    if result.usage:
        out["provider_usage"] = result.usage
    return out


def _extra_params(request: ImageRequest) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if request.quality:
        extra["Quality"] = request.quality
    if request.style:
        extra["Style"] = request.style
    if request.init_image is not None and request.strength is not None:
        extra["Denoising strength"] = request.strength
    return extra


def with_default_model(request: ImageRequest, catalogue: Catalogue) -> ImageRequest:
    if request.model:
        return request
    info = catalogue.get(request.provider)
    model = info.default_model or (info.models[0].model if info.models else "")
    return dataclasses.replace(request, model=model)
