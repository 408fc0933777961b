"""Export to a folder or a zip: byte-for-byte copies under safe single-component names."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.export import export_name, is_safe_component
from storage.library import Library
from storage.paths import StorageError
from tests.storage.conftest import add_with_file

HOSTILE = ["../../etc/passwd", "CON", "con.txt", "a/b\\c", "ü" * 300, "", "...", "  ", "nul", "LPT1.png",
           'what: <is> "this" | ? *', "\x00\x1f\x7f", "/absolute/path", "C:\\Windows\\system32", "trailing. ",
           "日本語のプロンプト" * 30, "emoji 🦊🦊🦊" * 20, "..\\..\\x", "COM1 "]


@pytest.fixture
def collection(library: Library) -> int:
    cid = library.create_collection("Export me")
    ids = [add_with_file(library, n, prompt=prompt, created_at=float(n)) for n, prompt in enumerate(HOSTILE)]
    library.add_to_collection(cid, ids)
    return cid


def source_bytes(library: Library, collection: int) -> list[bytes]:
    rows = library.rows(library.collection_image_ids(collection))
    return [Path(rows[i].path).read_bytes() for i in library.collection_image_ids(collection)]


def test_export_folder(library: Library, collection: int, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "nested"
    report = library.export_collection(collection, dest)
    assert report.dest == dest and report.skipped == []
    assert len(report.files) == len(HOSTILE)
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in report.files)
    for path in report.files:
        assert path.parent == dest.resolve() and is_safe_component(path.name)
        assert len(path.name.encode()) <= 255
    assert [p.read_bytes() for p in report.files] == source_bytes(library, collection)
    assert report.files[0].name.startswith("001_etc passwd_")
    assert report.files[1].name.startswith("002_CON_")
    assert not (tmp_path / "etc").exists()


def test_export_by_name_and_collisions(library: Library, collection: int, tmp_path: Path) -> None:
    first = library.export_collection("export ME", tmp_path / "out")
    second = library.export_collection("Export me", tmp_path / "out")  # same names again: suffixed
    assert set(first.files).isdisjoint(second.files)
    assert second.files[0].name.endswith("-2.png")
    assert [p.read_bytes() for p in second.files] == source_bytes(library, collection)
    with pytest.raises(ValueError, match="no collection named"):
        library.export_collection("nope", tmp_path / "x")


def test_planted_symlink_is_never_followed(library: Library, tmp_path: Path) -> None:
    cid = library.create_collection("C")
    image_id = add_with_file(library, 1, prompt="fox")
    library.add_to_collection(cid, [image_id])
    dest = tmp_path / "out"
    dest.mkdir()
    name = export_name(1, 3, "fox", library.get(image_id).sha256, ".png")  # type: ignore[union-attr]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (dest / name).symlink_to(victim)
    (dest / name.replace(".png", "-2.png")).symlink_to(tmp_path / "does-not-exist")  # dangling, outside
    report = library.export_collection(cid, dest)
    assert victim.read_text() == "precious" and not (tmp_path / "does-not-exist").exists()
    assert report.files == [dest.resolve() / name.replace(".png", "-3.png")]


def test_missing_file_is_skipped(library: Library, tmp_path: Path) -> None:
    cid = library.create_collection("C")
    ids = [add_with_file(library, n) for n in range(3)]
    library.add_to_collection(cid, ids)
    missing = Path(library.get(ids[1]).path)  # type: ignore[union-attr]
    missing.unlink()
    for dest in (tmp_path / "folder", tmp_path / "out.zip"):
        report = library.export_collection(cid, dest)
        assert len(report.files) == 2 and report.skipped[0][0] == str(missing)
        assert "cannot read" in report.skipped[0][1]


def test_export_zip(library: Library, collection: int, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "export.ZIP"
    report = library.export_collection(collection, dest)
    assert report.skipped == [] and dest.is_file()
    with zipfile.ZipFile(dest) as archive:
        names = archive.namelist()
        assert names == [str(p) for p in report.files]
        assert all(is_safe_component(n) for n in names)
        assert [archive.read(n) for n in names] == source_bytes(library, collection)
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert [p.name for p in dest.parent.iterdir()] == ["export.ZIP"]  # no temp file left
    again = library.export_collection(collection, dest)  # overwriting replaces atomically
    assert len(again.files) == len(HOSTILE)


def test_unwritable_destination(library: Library, collection: int, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # The message names the real problem (a file where a folder should be), not "File exists".
    with pytest.raises(StorageError, match="is a file, not a folder"):
        library.export_collection(collection, blocker / "out")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        library.export_collection(collection, blocker / "out.zip")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        library.export_collection(collection, blocker)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_destination(library: Library, collection: int, tmp_path: Path) -> None:
    dest = tmp_path / "ro"
    dest.mkdir(mode=0o555)
    try:
        with pytest.raises(StorageError):
            library.export_collection(collection, dest)
    finally:
        dest.chmod(0o755)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=st.text(max_size=400), position=st.integers(1, 10**6))
def test_any_prompt_gives_one_contained_component(tmp_path: Path, prompt: str, position: int) -> None:
    name = export_name(position, 3, prompt, "ab" * 32, ".png")
    assert is_safe_component(name)
    assert len(name.encode("utf-8")) <= 255 and "/" not in name and "\\" not in name
    root = tmp_path.resolve()
    assert (root / name).resolve().parent == root
    assert name.endswith("_abababab.png")

