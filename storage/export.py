"""Export images to a folder or a zip under safe, readable names.

Names come from untrusted prompts, so each is forced into ONE portable path component (no separators, no
traversal, no Windows-reserved names or characters, <= 255 UTF-8 bytes), checked for containment, and files
are created with O_EXCL ("xb") so neither an existing file nor a planted symlink is ever written through.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathvalidate import ValidationError, sanitize_filename, validate_filename

from storage.paths import StorageError
from storage.records import ImageRow

MAX_NAME_BYTES = 255
SNIPPET_CHARS = 60  # readable, and leaves room for suffixes
_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10)), "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


@dataclass(frozen=True)
class ExportReport:
    dest: Path
    files: list[Path] = field(default_factory=list)  # written files (zip: member names)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source path, reason)


def is_safe_component(name: str) -> bool:
    """True if `name` is one portable file name (any OS) that cannot escape the folder it is joined to."""
    if not name or name in (".", "..") or _BAD_CHARS.search(name) or name[-1] in ". " or name[0] == " ":
        return False
    if len(name.encode("utf-8")) > MAX_NAME_BYTES or name.split(".")[0].strip().upper() in _RESERVED:
        return False
    try:
        validate_filename(name, platform="universal")
    except ValidationError:
        return False
    return True


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max(max_bytes, 0)].decode("utf-8", "ignore")


def _extension(row: ImageRow) -> str:
    ext = _EXTENSIONS.get(row.format.upper()) or Path(row.path).suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""


def export_name(position: int, digits: int, prompt: str, sha: str, ext: str) -> str:
    """"007_a castle at dusk_1a2b3c4d.png": order, prompt snippet, short hash (uniqueness, traceability)."""
    head, tail = f"{position:0{digits}d}", f"_{sha[:8]}{ext}"
    snippet = sanitize_filename(" ".join(prompt.split())[:SNIPPET_CHARS], replacement_text=" ",
                                platform="universal")
    snippet = " ".join(_BAD_CHARS.sub(" ", snippet).split()).strip(" .-_")
    snippet = _truncate_utf8(snippet, MAX_NAME_BYTES - len(head) - len(tail) - 1).rstrip(" .")
    name = f"{head}_{snippet}{tail}" if snippet else f"{head}{tail}"
    return name if is_safe_component(name) else f"{head}{tail}"


def _numbered(name: str, n: int) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"


def _blocking_file(path: Path) -> Path | None:
    """The first existing regular file among `path`'s parents (it makes "File exists" errors confusing)."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None


def export_images(rows: Sequence[ImageRow], dest: Path) -> ExportReport:
    digits = max(3, len(str(len(rows))))
    names = [(row, export_name(pos, digits, row.prompt, row.sha256, _extension(row)))
             for pos, row in enumerate(rows, start=1)]
    folder = dest.parent if dest.suffix.lower() == ".zip" else dest
    blocker = _blocking_file(folder)
    if blocker is not None:
        raise StorageError(f"cannot export to {dest}: {blocker} is a file, not a folder")
    if dest.suffix.lower() == ".zip":
        return _to_zip(names, dest)
    return _to_folder(names, dest)


def _to_folder(names: Sequence[tuple[ImageRow, str]], dest: Path) -> ExportReport:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the export folder {dest}: {exc.strerror or exc}") from None
    root = dest.resolve()
    report = ExportReport(dest=dest)
    for row, name in names:
        source = Path(row.path)
        try:
            src = source.open("rb")
        except OSError as exc:
            report.skipped.append((row.path, f"cannot read the image: {exc.strerror or exc}"))
            continue
        with src:
            target = _create_exclusive(root, name)
            try:
                with target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            except OSError as exc:
                target.unlink(missing_ok=True)
                raise StorageError(f"could not write {target}: {exc.strerror or exc}") from None
        report.files.append(target)
    return report


def _create_exclusive(root: Path, name: str) -> Path:
    """Create (empty) the first free `name`, `name-2`, ... inside root; never through an existing entry."""
    for n in range(1, 10_000):
        candidate = root / (name if n == 1 else _numbered(name, n))
        if not candidate.resolve().is_relative_to(root):
            continue  # a planted symlink pointing outside: leave it alone, take the next name
        try:
            with candidate.open("xb"):  # O_CREAT|O_EXCL: fails on any existing file or symlink
                return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot write to the export folder {root}: {exc.strerror or exc}") from None
    raise StorageError(f"too many files named like {name} in {root}")


def _to_zip(names: Sequence[tuple[ImageRow, str]], dest: Path) -> ExportReport:
    report = ExportReport(dest=dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Build next to the destination, then rename: a failed export never leaves a half zip behind, and a
        # planted symlink at `dest` is replaced, not written through.
        fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".zip.part", dir=dest.parent)
    except OSError as exc:
        raise StorageError(f"cannot write the export file {dest}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    used: set[str] = set()
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as archive:
            for row, name in names:
                member = name
                n = 1
                while member.casefold() in used:  # case-insensitive: the zip may be unpacked on Windows/macOS
                    n += 1
                    member = _numbered(name, n)
                try:
                    info = zipfile.ZipInfo.from_file(row.path, arcname=member)
                    src = open(row.path, "rb")  # noqa: SIM115 (closed below); a read failure only skips it
                except OSError as exc:
                    report.skipped.append((row.path, f"cannot read the image: {exc.strerror or exc}"))
                    continue
                info.compress_type = zipfile.ZIP_STORED  # images are already compressed
                with src, archive.open(info, "w") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
                used.add(member.casefold())
                report.files.append(Path(member))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 suits a temp file, not a file the user shares
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write the export file {dest}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report
