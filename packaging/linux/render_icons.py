"""Render resources/icons/app/ai-images-studio.svg to the hicolor PNG sizes with Qt's own SVG renderer.

Run from anywhere with the project venv:  .venv/bin/python packaging/linux/render_icons.py
The PNGs are committed, so this only needs re-running after the SVG changes. Qt's renderer is used (not
Inkscape/rsvg) so that the only tool needed is the PySide6 the app already depends on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "resources" / "icons" / "app" / "ai-images-studio.svg"
OUT = ROOT / "resources" / "icons" / "app" / "hicolor"
NAME = "ai-images-studio"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(svg: Path, out_root: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841  (keeps Qt initialised)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot parse {svg}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        target = out_root / f"{size}x{size}" / "apps" / f"{NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        # Straight (non-premultiplied) alpha is what PNG stores; quality 0 = strongest zlib compression.
        if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(target), "PNG", 0):
            raise SystemExit(f"cannot write {target}")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=SVG)
    parser.add_argument("--out", type=Path, default=OUT, help="hicolor root (default: next to the SVG)")
    args = parser.parse_args(argv)
    total = 0
    for path in render(args.svg, args.out):
        total += path.stat().st_size
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size} B")
    print(f"total {total / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
