"""Packaging metadata stays consistent with the app: .desktop entry, AppStream file, icons, PyInstaller spec.

No network, no Qt, no PyInstaller needed: the spec is read as Python source, not executed.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from providers.registry import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
DESKTOP_FILE = LINUX / "ai-images-studio.desktop"
METAINFO = LINUX / "io.github.ai_images_studio.metainfo.xml"
SPEC = ROOT / "packaging" / "pyinstaller" / "ai-images-studio.spec"
ICONS = ROOT / "resources" / "icons" / "app"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def app_desktop_file_name() -> str:
    """The argument of app.setDesktopFileName(...) in the GUI start-up code."""
    tree = ast.parse((ROOT / "desktop" / "gui.py").read_text(encoding="utf-8"))
    names = [node.args[0].value for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr == "setDesktopFileName"
             and node.args and isinstance(node.args[0], ast.Constant)]
    assert len(names) == 1, names
    return names[0]


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in the Desktop Entry spec
    parser.read_string(DESKTOP_FILE.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def spec_constants() -> dict[str, object]:
    """Module-level NAME = <literal or re.compile(...)> assignments of the spec, without running PyInstaller."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper() and name not in {"ROOT", "ICON"}:
                values[name] = eval(compile(ast.Expression(node.value), str(SPEC), "eval"), {"re": re})
    return values


def test_desktop_entry_has_the_required_keys() -> None:
    entry = desktop_entry()
    for key in ("Type", "Name", "GenericName", "Comment", "Exec", "Icon", "Terminal", "Categories",
                "MimeType", "StartupWMClass", "Keywords"):
        assert entry.get(key, "").strip(), f"{key} missing or empty"
    assert entry["Type"] == "Application"
    assert entry["Terminal"] == "false"
    assert entry["Exec"] == "images-studio %F"
    for key in ("Categories", "MimeType", "Keywords"):
        assert entry[key].endswith(";"), f"{key} must end with ';'"
    assert {"Graphics", "2DGraphics", "RasterGraphics"} <= set(entry["Categories"].split(";"))
    assert {"image/png", "image/jpeg", "image/webp"} <= set(entry["MimeType"].split(";"))


def test_exec_is_a_script_the_project_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    program = desktop_entry()["Exec"].split()[0]
    assert project["scripts"].get(program) == "desktop.app:main"


def test_icon_and_wm_class_match_the_apps_desktop_file_name() -> None:
    name = app_desktop_file_name()
    entry = desktop_entry()
    assert DESKTOP_FILE.name == f"{name}.desktop"
    assert entry["Icon"] == name
    assert entry["StartupWMClass"] == name


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", path
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("size", SIZES)
def test_hicolor_icon_exists_with_the_right_size(size: int) -> None:
    icon = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{app_desktop_file_name()}.png"
    assert icon.is_file(), icon
    assert png_size(icon) == (size, size)


def test_scalable_icon_is_well_formed_svg() -> None:
    root = ET.parse(ICONS / f"{app_desktop_file_name()}.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 512 512"


def test_icons_stay_small() -> None:
    total = sum(p.stat().st_size for p in ICONS.rglob("*") if p.is_file())
    assert total < 200_000, f"app icons take {total} bytes"


def test_metainfo_is_well_formed_with_id_and_launchable() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    component_id = root.findtext("id")
    assert METAINFO.name == f"{component_id}.metainfo.xml"
    launchables = root.findall("launchable")
    assert [(el.get("type"), el.text) for el in launchables] == [("desktop-id", DESKTOP_FILE.name)]
    for tag in ("name", "summary", "metadata_license", "project_license"):
        assert (root.findtext(tag) or "").strip(), tag
    assert root.find("description/p") is not None
    assert root.find("content_rating") is not None
    assert root.find("screenshots/screenshot/image") is not None
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    releases = {el.get("version"): el.get("date") for el in root.findall("releases/release")}
    assert releases.get(version) == "2026-11-24"


def test_spec_packages_every_registered_adapter() -> None:
    hidden = spec_constants()["PROVIDER_MODULES"]
    missing = sorted({module for module, _cls in ADAPTERS.values()} - set(hidden))
    assert not missing, f"add these adapters to PROVIDER_MODULES in {SPEC.name}: {missing}"
    assert "providers.local_detect" in hidden


def test_spec_hidden_imports_exist() -> None:
    constants = spec_constants()
    for module in [*constants["PROVIDER_MODULES"], *constants["KEYRING_MODULES"], *constants["APP_MODULES"]]:
        assert importlib.util.find_spec(module) is not None, module


def test_spec_lists_the_cli_modules_the_app_imports_by_name() -> None:
    source = (ROOT / "desktop" / "app.py").read_text(encoding="utf-8")
    by_name = set(re.findall(r'"(desktop\.cli_[a-z_]+)"', source))
    assert by_name, "desktop.app no longer names its CLI modules; update this test and the spec"
    assert by_name <= set(spec_constants()["APP_MODULES"])


def test_spec_drop_filter_spares_what_the_app_needs() -> None:
    drop = spec_constants()["DROP"]
    dropped = ["PySide6/Qt/plugins/platformthemes/libqgtk3.so", "libgtk-3.so.0", "libpangocairo-1.0.so.0",
               "PySide6/Qt/lib/libQt6Pdf.so.6", "PySide6/Qt/lib/libQt6Quick.so.6",
               "PySide6/Qt/plugins/platforms/libqeglfs.so"]
    kept = ["PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
            "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/imageformats/libqsvg.so",
            "PySide6/Qt/plugins/imageformats/libqwebp.so", "PySide6/Qt/lib/libQt6Widgets.so.6",
            "PySide6/Qt/lib/libQt6Charts.so.6", "PySide6/Qt/lib/libQt6Svg.so.6", "PySide6/Qt/lib/libQt6XcbQpa.so.6",
            "libharfbuzz.so.0", "resources/providers/openai.json"]
    assert [p for p in dropped if not drop.search(p)] == []
    assert [p for p in kept if drop.search(p)] == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_installs_idempotently_and_uninstalls(tmp_path: Path) -> None:
    launcher = tmp_path / "bin" / "images-studio"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\nexit 0\n")
    launcher.chmod(0o755)
    data = tmp_path / "share"
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    script = [shutil.which("bash"), str(LINUX / "install-desktop-entry.sh")]

    def run(*args: str) -> None:
        subprocess.run([*script, *args], env=env, check=True, capture_output=True, timeout=60)

    run("--exec", str(launcher))
    run("--exec", str(launcher))  # a second run refreshes, it does not fail or duplicate
    installed = data / "applications" / DESKTOP_FILE.name
    lines = installed.read_text(encoding="utf-8").splitlines()
    assert f"Exec={launcher} %F" in lines and f"TryExec={launcher}" in lines
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "ai-images-studio.png").is_file()
    assert (data / "metainfo" / METAINFO.name).is_file()

    run("--uninstall")
    run("--uninstall")
    leftovers = [p for p in data.rglob("*") if p.is_file() and ("ai-images-studio" in p.name
                                                              or p.name == METAINFO.name)]
    assert leftovers == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_refuses_a_missing_launcher(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    done = subprocess.run(["bash", str(LINUX / "install-desktop-entry.sh"), "--exec", str(tmp_path / "nope")],
                          check=False, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "setup.sh" in done.stderr
    assert not (tmp_path / "share" / "applications" / DESKTOP_FILE.name).exists()
