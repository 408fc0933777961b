"""prepare_file / iter_image_files / prepare_generated: files in, ImageRecords out, no database."""

from __future__ import annotations

import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from storage import importer
from storage.imaging import MAX_FILE_BYTES, BadImage
from storage.importer import PreparedImage, Skipped, iter_image_files, prepare_file, prepare_generated
from storage.layout import thumb_path_for
from storage.metadata import read_metadata
from storage.paths import AppPaths
from tests.storage import samples

A1111_TEXT = ("a misty forest\nNegative prompt: people\n"
              "Steps: 25, Sampler: Euler a, CFG scale: 6, Seed: 42, Size: 64x48, Model: dreamshaper")


@pytest.fixture
def app_paths(tmp_path: Path) -> AppPaths:
    paths = AppPaths(data=tmp_path / "lib", cache=tmp_path / "lib" / "cache", logs=tmp_path / "lib" / "logs")
    paths.ensure()
    return paths


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_iter_image_files_walks_sorted_and_skips_hidden_and_library(tmp_path: Path,
                                                                    app_paths: AppPaths) -> None:
    root = tmp_path / "pics"
    for name in ["b.png", "a.JPG", "c.webp", "d.jpeg", "notes.txt", ".hidden.png", "sub/z.png", "sub/a.png",
                 ".cache/x.png", "sub/deeper/y.webp"]:
        write(root / name, b"x")
    write(app_paths.images_dir / "ab" / "cd" / "own.png", b"x")
    found = list(iter_image_files([root, tmp_path / "lib", root / "b.png"], app_paths))
    assert [p.relative_to(root).as_posix() for p in found] == [
        "a.JPG", "b.png", "c.webp", "d.jpeg", "sub/a.png", "sub/deeper/y.webp", "sub/z.png"]


def test_iter_image_files_passes_explicit_files_through(tmp_path: Path) -> None:
    text = write(tmp_path / "readme.txt", b"hello")
    missing = tmp_path / "gone.png"
    assert list(iter_image_files([text, missing, text])) == [text, missing]


def test_iter_image_files_does_not_follow_folder_symlinks(tmp_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("symlinks need privileges on Windows")
    root = tmp_path / "pics"
    write(root / "a.png", b"x")
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert [p.name for p in iter_image_files([root])] == ["a.png"]


def test_prepare_file_imports_with_metadata(tmp_path: Path, app_paths: AppPaths) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_TEXT)
    data = samples.png(pnginfo=info)
    source = write(tmp_path / "in" / "forest.png", data)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    result = prepare_file(source, app_paths)
    assert isinstance(result, PreparedImage)
    record = result.record
    sha = hashlib.sha256(data).hexdigest()
    assert record.sha256 == sha
    assert result.abs_path == app_paths.data / record.path
    assert result.abs_path.read_bytes() == data  # original bytes kept, metadata included
    assert result.thumb_path == thumb_path_for(app_paths, sha) and result.thumb_path.is_file()
    assert (record.format, record.width, record.height, record.file_size) == ("PNG", 64, 48, len(data))
    assert record.source == "imported" and record.provider == ""
    assert (record.prompt, record.negative_prompt) == ("a misty forest", "people")
    assert record.model == "dreamshaper"
    assert (record.seed, record.steps, record.cfg_scale, record.sampler) == (42, 25, 6.0, "Euler a")
    assert record.created_at == 1_600_000_000
    assert record.source_path == str(source)
    assert record.meta["imported_from"] == str(source)
    assert record.meta["metadata_source"] == "a1111"
    json.dumps(record.meta)


def test_prepare_file_twice_reuses_the_stored_file(tmp_path: Path, app_paths: AppPaths) -> None:
    first = prepare_file(write(tmp_path / "a.jpg", samples.jpeg()), app_paths)
    second = prepare_file(write(tmp_path / "copy.jpg", samples.jpeg()), app_paths)
    assert isinstance(first, PreparedImage) and isinstance(second, PreparedImage)
    assert first.abs_path == second.abs_path
    assert second.record.source_path.endswith("copy.jpg")


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("notes.txt", b"just text", "not an image"),
    ("page.png", b"<html>404</html>", "not an image"),
    ("empty.png", b"", "empty file"),
    ("anim.gif", samples.encode(samples.gradient(8, 8), "GIF"), "unsupported format GIF"),
    ("cut.png", samples.png(64, 64)[:-100], "truncated or corrupt image"),
    ("bomb.png", samples.png_header_claiming(20000, 20000), "image too large (decompression bomb)"),
])
def test_prepare_file_skips_with_reason(tmp_path: Path, app_paths: AppPaths, name: str, data: bytes,
                                        reason: str) -> None:
    result = prepare_file(write(tmp_path / name, data), app_paths)
    assert result == Skipped(tmp_path / name, reason)
    assert [p for p in app_paths.images_dir.rglob("*") if p.is_file()] == []


def test_prepare_file_refuses_huge_files_before_reading(tmp_path: Path, app_paths: AppPaths,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:  # sparse: no real disk use
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(MAX_FILE_BYTES + 1)

    def no_reading(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(importer, "open", no_reading, raising=False)
    assert prepare_file(huge, app_paths) == Skipped(huge, "file too large (over 200 MB)")


def test_prepare_file_missing_and_folder(tmp_path: Path, app_paths: AppPaths) -> None:
    assert prepare_file(tmp_path / "nope.png", app_paths) == Skipped(tmp_path / "nope.png", "file not found")
    assert prepare_file(tmp_path, app_paths) == Skipped(tmp_path, "not a file")


def test_prepare_file_is_thread_safe(tmp_path: Path, app_paths: AppPaths) -> None:
    sources = [write(tmp_path / f"{i}.webp", samples.webp(100, 80)) for i in range(6)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: prepare_file(p, app_paths), sources))
    assert len({r.abs_path for r in results if isinstance(r, PreparedImage)}) == 1
    files = [p for p in app_paths.data.rglob("*") if p.is_file() and not p.is_relative_to(app_paths.cache)]
    assert len(files) == 1
    assert not any(p.name.endswith(".tmp") for p in app_paths.data.rglob("*"))


SECRET = "sk-proj-THISISASECRETKEY1234567890"


def generated(app_paths: AppPaths, data: bytes) -> PreparedImage:
    return prepare_generated(
        data, app_paths, provider="openai", model="gpt-image-1", prompt="a blue heron, watercolor",
        negative_prompt="text", seed=7, revised_prompt="A watercolor heron", cost_usd=0.042,
        request_id="req_9",
        job_id=3, fallback_from="kie", created_at=1_700_000_000.5,
        request={"model": "gpt-image-1", "size": "64x48", "api_key": SECRET,
                 "headers": {"Authorization": f"Bearer {SECRET}", "Accept": "image/png"},
                 "callback": f"https://example.test/cb?key={SECRET}&x=1", "max_tokens": 5},
        extra_params={"Quality": "high"})


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_prepare_generated_embeds_metadata_without_keys(app_paths: AppPaths, fmt: str) -> None:
    data = samples.encode(samples.gradient(), fmt)
    result = generated(app_paths, data)
    record = result.record
    stored = result.abs_path.read_bytes()
    assert SECRET not in stored.decode("latin-1")
    assert SECRET not in json.dumps(record.meta)
    assert record.sha256 == hashlib.sha256(stored).hexdigest()
    assert (record.source, record.provider, record.job_id) == ("generated", "openai", 3)
    assert record.model == "gpt-image-1"
    assert (record.width, record.height, record.format, record.file_size) == (64, 48, fmt, len(stored))
    assert record.meta["metadata_embedded"] is True
    assert record.meta["request"]["headers"] == {"Accept": "image/png"}
    assert record.meta["request"]["callback"] == "https://example.test/cb?key=[redacted]&x=1"
    assert record.meta["request"]["max_tokens"] == 5
    parsed = read_metadata(stored)
    assert parsed.source == "studio"
    assert (parsed.prompt, parsed.negative_prompt, parsed.seed) == ("a blue heron, watercolor", "text", 7)
    assert parsed.studio["revised_prompt"] == "A watercolor heron"
    assert parsed.studio["cost_usd"] == 0.042 and parsed.studio["request_id"] == "req_9"
    assert parsed.extra["Provider"] == "openai" and parsed.extra["Quality"] == "high"
    assert samples.decoded(stored) == samples.decoded(data)
    assert Image.open(io.BytesIO(result.thumb_path.read_bytes())).format == "WEBP"


def test_prepare_generated_rejects_bad_bytes(app_paths: AppPaths) -> None:
    with pytest.raises(BadImage, match="not an image"):
        generated(app_paths, b'{"error": "content policy"}')


def test_prepare_generated_keeps_unembeddable_bytes(app_paths: AppPaths,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> bytes:
        raise ValueError("odd container")

    monkeypatch.setattr(importer, "embed_metadata", broken)
    data = samples.png()
    result = generated(app_paths, data)
    assert result.abs_path.read_bytes() == data
    assert result.record.meta["metadata_embedded"] is False


def test_import_of_our_own_image_restores_provider(tmp_path: Path, app_paths: AppPaths) -> None:
    made = generated(app_paths, samples.png())
    copy = write(tmp_path / "exported.png", made.abs_path.read_bytes())
    result = prepare_file(copy, app_paths)
    assert isinstance(result, PreparedImage)
    assert (result.record.source, result.record.provider) == ("imported", "openai")
    assert (result.record.revised_prompt, result.record.cost_usd) == ("A watercolor heron", 0.042)
    assert result.record.meta["metadata_source"] == "studio"
