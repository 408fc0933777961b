"""Turn files or fresh provider bytes into stored, thumbnailed, verified images plus an ImageRecord.

Everything here is blocking and thread-safe and never touches the database: worker threads prepare, the
single DB writer (storage.library) commits the records. A StorageError (disk full, read-only library)
propagates so the caller can stop a whole batch with one message; a bad file becomes a Skipped instead.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.files import ImageStore
from storage.imaging import MAX_FILE_BYTES, BadImage, ImageInfo, same_image_header, verify_image_with
from storage.metadata import ParsedMetadata, embed_metadata, format_a1111_parameters, read_metadata
from storage.paths import AppPaths
from storage.records import ImageRecord
from storage.thumbnails import ensure_thumbnail, render_loaded, write_thumbnail

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})
_SECRET_NAME = re.compile(
    r"api[-_]?key|secret|passw|authori[sz]ation|cookie|credential|bearer|^key$|[-_]key$|(^|[-_])token$|"
    r"(access|auth|api|refresh|session|id)[-_]?token", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"([?&](?:api[-_]?key|key|token|access_token|sig|signature)=)[^&#\s]+",
                           re.IGNORECASE)


@dataclass(frozen=True)
class PreparedImage:
    record: ImageRecord
    thumb_path: Path
    abs_path: Path


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # worded for the user: "not an image", "empty file", "file too large (over 200 MB)"...


# ---- import ------------------------------------------------------------------------------------------------

def _is_hidden(entry: os.DirEntry[str] | Path) -> bool:
    if entry.name.startswith("."):
        return True
    try:  # Windows "hidden" attribute; st_file_attributes exists only there
        attributes = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attributes & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def iter_image_files(paths: Iterable[Path], app_paths: AppPaths | None = None) -> Iterator[Path]:
    """Files to import, in a stable order, each once.

    Folders are walked recursively (sorted, symlinked folders not followed) and yield PNG/JPEG/WebP files by
    extension, skipping hidden files and folders and the library's own data and cache folders. A path given
    explicitly is yielded whatever it is, so prepare_file can explain why it was skipped ("not an image").
    """
    own = [_resolved(p) for p in (app_paths.data, app_paths.cache)] if app_paths else []
    seen: set[Path] = set()

    def fresh(path: Path) -> bool:
        key = _resolved(path)
        if key in seen:
            return False
        seen.add(key)
        return True

    def inside_library(path: Path) -> bool:
        resolved = _resolved(path)
        return any(resolved == root or resolved.is_relative_to(root) for root in own)

    def walk(folder: Path) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc.strerror or exc)
            return
        for entry in entries:
            if _is_hidden(entry):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file()
            except OSError:
                continue
            if is_dir:
                if not inside_library(path):
                    yield from walk(path)
            elif is_file and path.suffix.lower() in IMAGE_EXTENSIONS and fresh(path):
                yield path

    for given in paths:
        given = Path(given)
        if given.is_dir():
            if not inside_library(given):
                yield from walk(given)
        elif fresh(given):
            yield given


def _read_limited(path: Path) -> bytes | Skipped:
    try:
        info = path.stat()
    except FileNotFoundError:
        return Skipped(path, "file not found")
    except OSError as exc:
        return Skipped(path, f"cannot read the file: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        return Skipped(path, "not a file")
    if info.st_size == 0:
        return Skipped(path, "empty file")
    too_large = Skipped(path, f"file too large (over {MAX_FILE_BYTES // (1024 * 1024)} MB)")
    if info.st_size > MAX_FILE_BYTES:
        return too_large  # refused before reading a byte
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat()
    except OSError as exc:
        return Skipped(path, f"cannot read the file: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return too_large
    return data if data else Skipped(path, "empty file")


def _studio_str(studio: Mapping[str, Any], key: str) -> str:
    value = studio.get(key)
    return value if isinstance(value, str) else ""


def _studio_float(studio: Mapping[str, Any], key: str) -> float | None:
    value = studio.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _import_record(path: Path, info: ImageInfo, rel: str, size: int, sha: str, md: ParsedMetadata,
                   mtime: float) -> ImageRecord:
    studio = md.studio
    return ImageRecord(
        sha256=sha, path=rel, format=info.format, width=info.width, height=info.height, file_size=size,
        source="imported", provider=_studio_str(studio, "provider"), model=md.model, prompt=md.prompt,
        negative_prompt=md.negative_prompt, seed=md.seed, steps=md.steps, cfg_scale=md.cfg_scale,
        sampler=md.sampler, revised_prompt=_studio_str(studio, "revised_prompt"),
        cost_usd=_studio_float(studio, "cost_usd"), request_id=_studio_str(studio, "request_id"),
        fallback_from=_studio_str(studio, "fallback_from"), source_path=str(path), created_at=mtime,
        meta={"imported_from": str(path), "metadata_source": md.source, "metadata": md.extra},
    )


def prepare_file(path: Path, paths: AppPaths) -> PreparedImage | Skipped:
    """Verify, store (original bytes, so the file's own metadata stays), thumbnail and describe one file."""
    path = Path(path).absolute()
    data = _read_limited(path)
    if isinstance(data, Skipped):
        return data
    try:
        info, thumb_bytes = verify_image_with(data, render_loaded)  # one decode: verified pixels -> thumbnail
        mtime = path.stat().st_mtime
    except BadImage as exc:
        return Skipped(path, exc.reason)
    except OSError as exc:
        return Skipped(path, f"cannot read the file: {exc.strerror or exc}")
    stored = ImageStore(paths).store(data, info)
    thumb = write_thumbnail(paths, stored.sha256, thumb_bytes) if thumb_bytes else ensure_thumbnail(
        paths, stored.sha256, data)
    metadata = read_metadata(data)
    record = _import_record(path, info, stored.rel_path, stored.size, stored.sha256, metadata, mtime)
    return PreparedImage(record, thumb, stored.abs_path)


# ---- generated ---------------------------------------------------------------------------------------------

def scrub_secrets(value: Any) -> Any:
    """A JSON-safe copy without anything named like a credential (api_key, Authorization, token...)."""
    if isinstance(value, Mapping):
        return {str(k): scrub_secrets(v) for k, v in value.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str):
        if value.lower().startswith(("bearer ", "basic ")):
            return "[redacted]"
        return _SECRET_QUERY.sub(r"\1[redacted]", value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def prepare_generated(
    data: bytes, paths: AppPaths, *, provider: str, model: str = "", prompt: str = "",
    negative_prompt: str = "", seed: int | None = None, steps: int | None = None,
    cfg_scale: float | None = None, sampler: str = "", revised_prompt: str = "",
    cost_usd: float | None = None,
    request_id: str = "", job_id: int | None = None, fallback_from: str = "", tags: str = "",
    created_at: float | None = None, request: Mapping[str, Any] | None = None,
    extra_params: Mapping[str, Any] | None = None,
) -> PreparedImage:
    """Verify fresh provider bytes, embed the infotext + our JSON (never a key), store, thumbnail.

    extra_params are provider-specific infotext pairs (e.g. {"Quality": "hd"}). Raises BadImage for bytes
    that are not a safe PNG/JPEG/WebP and StorageError when the library cannot be written.
    """
    info, thumb_bytes = verify_image_with(data, render_loaded)  # one decode: verified pixels -> thumbnail
    created = time.time() if created_at is None else created_at
    clean_request = scrub_secrets(dict(request or {}))
    fields: dict[str, Any] = {"Steps": steps, "Sampler": sampler or None, "CFG scale": cfg_scale,
                              "Seed": seed, "Size": f"{info.width}x{info.height}", "Model": model or None,
                              "Provider": provider or None}
    fields.update(scrub_secrets(dict(extra_params or {})))
    studio = {
        "app": "AI Images Studio", "schema": 1, "provider": provider, "model": model, "prompt": prompt,
        "negative_prompt": negative_prompt, "revised_prompt": revised_prompt, "seed": seed, "steps": steps,
        "cfg_scale": cfg_scale, "sampler": sampler, "width": info.width, "height": info.height,
        "cost_usd": cost_usd, "request_id": request_id, "fallback_from": fallback_from, "created_at": created,
        "request": clean_request,
    }
    studio = {k: v for k, v in studio.items() if v not in (None, "", {})}
    stored_bytes, embedded = data, False
    try:
        parameters = format_a1111_parameters(prompt, negative_prompt, fields)
        candidate = embed_metadata(data, info.format, parameters, studio)
        if not same_image_header(candidate, info):  # never let a container edit put a broken file in
            raise BadImage("the metadata edit broke the file")  # the library (pixels were verified above)
        stored_bytes, embedded = candidate, True
    except (ValueError, BadImage) as exc:
        log.warning("metadata not embedded in the %s image (kept in the database only): %s", info.format, exc)
    stored = ImageStore(paths).store(stored_bytes, info)
    thumb = write_thumbnail(paths, stored.sha256, thumb_bytes) if thumb_bytes else ensure_thumbnail(
        paths, stored.sha256, stored_bytes)
    record = ImageRecord(
        sha256=stored.sha256, path=stored.rel_path, format=info.format, width=info.width, height=info.height,
        file_size=stored.size, source="generated", provider=provider, model=model, prompt=prompt,
        negative_prompt=negative_prompt, seed=seed, steps=steps, cfg_scale=cfg_scale, sampler=sampler,
        revised_prompt=revised_prompt, tags=tags, cost_usd=cost_usd, request_id=request_id, job_id=job_id,
        fallback_from=fallback_from, created_at=created,
        meta={"request": clean_request, "metadata_embedded": embedded},
    )
    return PreparedImage(record, thumb, stored.abs_path)
