"""Plain values that cross the storage boundary (no peewee objects leak out of storage/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageRecord:
    """What is known about an image when it enters the library (generated or imported)."""

    sha256: str
    path: str  # relative to AppPaths.data, posix separators
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    file_size: int
    source: str = "generated"  # "generated" | "imported"
    provider: str = ""
    model: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str = ""
    revised_prompt: str = ""
    tags: str = ""  # space/comma separated
    cost_usd: float | None = None
    request_id: str = ""
    job_id: int | None = None
    fallback_from: str = ""  # provider first asked, when the image came from a fallback
    source_path: str = ""  # original file for imports
    created_at: float | None = None  # epoch seconds; None = now
    meta: dict[str, Any] = field(default_factory=dict)  # the full request/parameters as JSON (never a key)


@dataclass(frozen=True)
class ImageRow:
    """One library image as the gallery, detail view and CLI see it."""

    id: int
    sha256: str
    path: str  # absolute path of the file
    format: str
    width: int
    height: int
    file_size: int
    source: str
    provider: str
    model: str
    prompt: str
    negative_prompt: str
    seed: int | None
    steps: int | None
    cfg_scale: float | None
    sampler: str
    revised_prompt: str
    tags: str
    cost_usd: float | None
    request_id: str
    job_id: int | None
    fallback_from: str
    source_path: str
    created_at: float
    favorite: bool
    rating: int  # 0 = unrated, 1..5
    rejected: bool
    trashed: bool
    collections: tuple[str, ...] = ()
    thumb_path: str = ""  # absolute path of the 256 px WebP thumbnail

    def to_json(self) -> dict[str, Any]:
        """The CLI's public `list --json` object (names are a contract: add, never rename or drop)."""
        import datetime as _dt

        return {
            "id": self.id,
            "path": self.path,
            "sha256": self.sha256,
            "provider": self.provider,
            "model": self.model,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "created_at": _dt.datetime.fromtimestamp(self.created_at, _dt.timezone.utc).isoformat(),
            "favorite": self.favorite,
            "rating": self.rating,
            "rejected": self.rejected,
            "collections": list(self.collections),
            "source": self.source,
            "cost_usd": self.cost_usd,
            "revised_prompt": self.revised_prompt,
            "fallback_from": self.fallback_from or None,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "sampler": self.sampler,
            "tags": self.tags,
            "thumbnail": self.thumb_path,
        }


@dataclass(frozen=True)
class ImageQuery:
    """Gallery/CLI filter. Sort: "newest" | "oldest" | "rating"."""

    search: str = ""
    favorites: bool = False
    min_rating: int = 0
    provider: str = ""
    collection: str = ""  # collection name; "" = all
    date_from: float | None = None
    date_to: float | None = None
    include_rejected: bool = True
    trashed: bool = False  # True = show only the trash
    sort: str = "newest"


@dataclass(frozen=True)
class CollectionRow:
    id: int
    name: str
    count: int
    cover_image_id: int | None
    cover_thumb_path: str
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "count": self.count, "cover_image_id": self.cover_image_id}
