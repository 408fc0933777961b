"""Screenshot the real window over a real (optionally synthetic) library.

    python -m desktop.ui.preview --data-dir DIR --out shot.png [--populate N] [--size 1400x900] [--tile PX]

Builds the services over DIR, optionally paints N gradient/shape images with prompts and imports them,
shows MainWindow, waits for the thumbnails, and saves window.grab() to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import tempfile
from pathlib import Path

PROMPTS = (
    "a lighthouse on a basalt cliff at golden hour, volumetric light, 35mm photo",
    "isometric cozy reading nook with plants, soft pastel palette, 3d render",
    "portrait of an astronaut made of stained glass, intricate, vivid colors",
    "misty pine forest at dawn, matte painting, cinematic",
    "retro-futuristic city skyline, synthwave sunset, neon reflections",
    "macro photo of a dew drop on a fern leaf, bokeh",
    "watercolor fox sleeping under a maple tree, autumn",
    "brutalist concrete museum interior, long shadows, architectural photography",
    "koi pond seen from above, ukiyo-e style",
    "a bowl of ramen as a tiny island world, tilt-shift, whimsical",
)
PROVIDERS = ("openai", "stability", "replicate", "comfyui", "a1111")


def paint(path: Path, seed: int) -> None:
    """A pleasant synthetic picture: a two-colour gradient with soft circles and a horizon."""
    from PIL import Image, ImageDraw, ImageFilter
    from PIL.PngImagePlugin import PngInfo

    rnd = random.Random(seed)
    w, h = rnd.choice([(768, 768), (896, 640), (640, 896), (1024, 576)])
    hue = rnd.random()

    def colour(shift: float, light: float) -> tuple[int, int, int]:
        import colorsys

        r, g, b = colorsys.hls_to_rgb((hue + shift) % 1.0, light, 0.55)
        return int(r * 255), int(g * 255), int(b * 255)

    top, bottom = colour(0.0, 0.25 + rnd.random() * 0.2), colour(0.12, 0.6 + rnd.random() * 0.2)
    gradient = Image.linear_gradient("L").resize((w, h))
    img = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), gradient)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(rnd.randint(3, 7)):
        r = rnd.randint(min(w, h) // 12, min(w, h) // 3)
        x, y = rnd.randint(0, w), rnd.randint(0, h)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour(rnd.uniform(-0.3, 0.3), 0.7) + (rnd.randint(60, 150),))
    horizon = int(h * rnd.uniform(0.55, 0.8))
    points = [(0, h)] + [(x, horizon + int(math.sin(x / w * math.pi * rnd.uniform(1, 4)) * h * 0.05))
                         for x in range(0, w + 32, 32)] + [(w, h)]
    draw.polygon(points, fill=colour(0.5, 0.15) + (230,))
    img = Image.alpha_composite(img.convert("RGBA"), layer.filter(ImageFilter.GaussianBlur(6))).convert("RGB")
    info = PngInfo()
    prompt = PROMPTS[seed % len(PROMPTS)]
    info.add_text("parameters", f"{prompt}\nNegative prompt: blurry, low quality\n"
                                f"Steps: {rnd.choice([20, 28, 30])}, Sampler: DPM++ 2M, CFG scale: 7, "
                                f"Seed: {rnd.randint(1, 2**31)}, Size: {w}x{h}, Model: studio-xl")
    img.save(path, pnginfo=info)


def populate(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"synthetic_{i:04d}.png"
        paint(path, i)
        paths.append(path)
    return paths


async def run(args: argparse.Namespace) -> int:
    from desktop.asyncqt import TaskRunner
    from desktop.services.container import build_services
    from desktop.ui.main_window import MainWindow
    from storage.paths import AppPaths

    services = build_services(AppPaths.resolve(args.data_dir))
    runner = TaskRunner()
    try:
        if args.populate:
            with tempfile.TemporaryDirectory() as tmp:
                populate(Path(tmp), args.populate)
                report = await services.library.import_paths([Path(tmp)])
                print(report.summary())
            ids = services.library.ids(__import__("storage.records", fromlist=["ImageQuery"]).ImageQuery())
            if ids and not services.library.collections():
                cid = services.library.create_collection("Landscapes")
                services.library.add_to_collection(cid, ids[::3])
                services.library.create_collection("Portfolio")
                services.library.set_favorite(ids[1::4], True)
                services.library.set_rating(ids[::5], 4)
                services.library.set_rejected(ids[7:8], True)
        window = MainWindow(services, runner, lambda: None)
        width, height = (int(v) for v in args.size.split("x"))
        window.resize(width, height)
        window.show()
        if args.tile:
            window.filters.size_slider.setValue(args.tile)  # big tiles exercise the 512 px thumbnails
        if window.model.rowCount():
            window.view.setCurrentIndex(window.model.index(0, 0))
            window.view.selectionModel().select(window.model.index(2, 0),
                                                window.view.selectionModel().SelectionFlag.Select)
        for _ in range(500):  # wait for rows and thumbnails (at most ~10 s; big tiles decode originals)
            await asyncio.sleep(0.02)  # the Qt loop runs while we wait (never processEvents() in a task)
            visible = list(window.view.visible_rows())
            if all(window.loader.has_exact(window.model.image_id(r), window.model.thumb_px) for r in visible):
                await asyncio.sleep(0.3)  # the detail preview decodes in a worker
                break
        window.grab().save(str(args.out))
        print(f"saved {args.out}")
        window.close()
        await runner.cancel_all()
    finally:
        services.close()
    return 0


def _dark_palette() -> "QPalette":
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = QPalette.ColorRole
    for role, colour in ((roles.Window, "#2b2d31"), (roles.WindowText, "#e6e6e6"), (roles.Base, "#1f2023"),
                         (roles.AlternateBase, "#303236"), (roles.Text, "#e6e6e6"), (roles.Button, "#35373c"),
                         (roles.ButtonText, "#e6e6e6"), (roles.Highlight, "#3d8ee0"), (roles.Mid, "#55575c"),
                         (roles.Midlight, "#3a3c41"), (roles.HighlightedText, "#ffffff"),
                         (roles.PlaceholderText, "#8a8c91"), (roles.ToolTipBase, "#35373c"),
                         (roles.ToolTipText, "#e6e6e6")):
        p.setColor(role, QColor(colour))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#75777c"))
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--populate", type=int, default=0)
    parser.add_argument("--size", default="1400x900")
    parser.add_argument("--tile", type=int, default=0, help="thumbnail size slider value (96-512)")
    parser.add_argument("--dark", action="store_true", help="preview with a dark palette")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication
    import qasync

    from desktop.ui.qtfix import install_emit_refcount_fix
    from desktop.ui.theme import apply_app_style

    app = QApplication.instance() or QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    install_emit_refcount_fix()
    apply_app_style(app)  # type: ignore[arg-type]
    if args.dark:
        from PySide6.QtCore import Qt

        app.styleHints().setColorScheme(Qt.ColorScheme.Dark)  # type: ignore[union-attr]
        app.setPalette(_dark_palette())  # offscreen has no system scheme: stand in for a dark desktop
    return qasync.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
