"""The detail panel: a larger preview (decoded off the GUI thread), full metadata, copy buttons, rating."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (QFormLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from desktop.asyncqt import TaskRunner
from desktop.ui.icons import icon
from desktop.ui.theme import ACCENT_STAR
from desktop.ui.thumbnail_loader import decode_scaled
from desktop.viewmodels.library import LibraryViewModel
from desktop.viewmodels.records import ImageRow

FIELDS: tuple[tuple[str, str], ...] = (
    ("prompt", "Prompt"), ("negative_prompt", "Negative"), ("revised_prompt", "Revised prompt"),
    ("provider", "Provider"), ("model", "Model"), ("seed", "Seed"), ("size", "Size"), ("steps", "Steps"),
    ("sampler", "Sampler"), ("cfg_scale", "CFG scale"), ("cost_usd", "Cost"), ("created", "Created"),
    ("fallback_from", "Fallback from"), ("collections", "Collections"), ("source", "Source"), ("path", "File"),
)


def describe(row: ImageRow) -> dict[str, str]:
    """Display strings for every field (empty string = hide the line)."""
    created = dt.datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M") if row.created_at else ""
    return {
        "prompt": row.prompt, "negative_prompt": row.negative_prompt, "revised_prompt": row.revised_prompt,
        "provider": row.provider, "model": row.model,
        "seed": "" if row.seed is None else str(row.seed),
        "size": f"{row.width} × {row.height} px · {row.format} · {row.file_size / 1024:.0f} KB",
        "steps": "" if row.steps is None else str(row.steps), "sampler": row.sampler,
        "cfg_scale": "" if row.cfg_scale is None else f"{row.cfg_scale:g}",
        "cost_usd": "" if row.cost_usd is None else f"${row.cost_usd:.4f}".rstrip("0").rstrip("."),
        "created": created, "fallback_from": row.fallback_from,
        "collections": ", ".join(row.collections), "source": row.source,
        "path": _breakable(row.path),
    }


def _breakable(path: str) -> str:
    """Let QLabel wrap long paths: a zero-width space after separators and every 24 characters of a name."""
    parts = []
    for part in path.replace("\\", "/").split("/"):
        parts.append("\u200b".join(part[i:i + 24] for i in range(0, len(part), 24)))
    return "/\u200b".join(parts)


class PreviewLabel(QLabel):
    """Shows the decoded preview scaled to its width; asks for a bigger decode when it grows."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._source = QPixmap()

    def set_source(self, pixmap: QPixmap) -> None:
        self._source = pixmap
        self._rescale()

    def source(self) -> QPixmap:
        return self._source

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source.isNull():
            self.setPixmap(QPixmap())
            return
        dpr = self.devicePixelRatioF()
        box = QSize(self.width(), max(180, min(self.width(), 420)))
        scaled = self._source.scaled(box * dpr, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        scaled.setDevicePixelRatio(dpr)
        self.setPixmap(scaled)


class DetailPanel(QScrollArea):
    vm: LibraryViewModel  # set by bind()
    favoriteToggled = Signal(bool)
    ratingChosen = Signal(int)
    rowShown = Signal(object)  # ImageRow | None, after show_row: lets extensions follow the shown image

    def __init__(self, runner: TaskRunner, on_error: Callable[[BaseException], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.on_error = on_error
        self.row: ImageRow | None = None
        self.covered: set[str] = set()
        self._preview_task: asyncio.Task[Any] | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(14, 12, 14, 14)
        layout.setSpacing(12)

        self.preview = PreviewLabel()
        layout.addWidget(self.preview)
        self.empty = QLabel("Select an image to see its prompt and settings.")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty)

        actions = QHBoxLayout()
        actions.setSpacing(6)
        self.favorite_button = QToolButton()
        self.favorite_button.setCheckable(True)
        self.favorite_button.setIcon(icon("star"))
        self.favorite_button.setToolTip("Favorite (F)")
        self.favorite_button.toggled.connect(self._favorite_clicked)
        actions.addWidget(self.favorite_button)
        self.rating_buttons: list[QToolButton] = []
        for value in range(1, 6):
            button = QToolButton()
            button.setIcon(icon("star"))
            button.setAutoRaise(True)
            button.setToolTip(f"Rate {value} (key {value}); click the current rating to clear")
            button.clicked.connect(lambda _=False, v=value: self._rating_clicked(v))
            self.rating_buttons.append(button)
            actions.addWidget(button)
        actions.addStretch(1)
        self.copy_prompt = QPushButton(icon("copy"), "Copy prompt")
        self.copy_prompt.clicked.connect(lambda: self._copy("prompt"))
        self.copy_seed = QPushButton("Copy seed")
        self.copy_seed.clicked.connect(lambda: self._copy("seed"))
        copies = QHBoxLayout()
        copies.setSpacing(6)
        copies.addWidget(self.copy_prompt)
        copies.addWidget(self.copy_seed)
        copies.addStretch(1)
        self.actions_row = QWidget()
        rows = QVBoxLayout(self.actions_row)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(8)
        rows.addLayout(actions)
        rows.addLayout(copies)
        layout.addWidget(self.actions_row)
        self.extensions = QVBoxLayout()  # widgets added by other features (generation: reuse, requested/actual)
        self.extensions.setSpacing(10)
        layout.addLayout(self.extensions)

        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(8)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.values: dict[str, QLabel] = {}
        self.keys: dict[str, QLabel] = {}
        for key, title in FIELDS:
            label = QLabel(title)
            label.setObjectName("detailKey")
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.form.addRow(label, value)
            self.values[key] = value
            self.keys[key] = label
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.setWidget(body)
        self.show_row(None)

    def bind(self, vm: LibraryViewModel) -> None:
        """All of the panel's wiring to the library: the shown image follows its changes (favourite, rating,
        collections). The panel's own buttons act on the window's selection, so the window wires those."""
        self.vm = vm
        vm.imagesChanged.connect(self._images_changed)

    def _images_changed(self, image_ids: list[int]) -> None:
        if self.row is not None and self.row.id in image_ids:
            self.show_row(self.vm.get(self.row.id))

    # -- content ---------------------------------------------------------------------------------------
    def set_covered(self, keys: set[str]) -> None:
        """Hide the plain rows another section of the panel already shows (the generation UI's requested →
        actual table covers provider, model, seed, ...), so each fact appears once. Size stays as the file's
        format and weight, which that table does not give."""
        self.covered = set(keys)
        texts = describe(self.row) if self.row is not None else {}
        for key, title in FIELDS:
            text = texts.get(key, "")
            if key == "size" and "size" in self.covered and self.row is not None:
                text = f"{self.row.format} · {self.row.file_size / 1024:.0f} KB"
            self.keys[key].setText("File type" if key == "size" and "size" in self.covered else title)
            self.values[key].setText(text)
            shown = bool(text) and (key not in self.covered or key == "size")
            self.values[key].setVisible(shown)
            self.keys[key].setVisible(shown)

    def show_row(self, row: ImageRow | None) -> None:
        same_image = row is not None and self.row is not None and row.id == self.row.id
        self.row = row
        has = row is not None
        self.empty.setVisible(not has)
        self.preview.setVisible(has)
        self.actions_row.setVisible(has)
        self.set_covered(set())
        self.rowShown.emit(row)  # an extension may call set_covered for this row
        if row is None:
            self._cancel_preview()
            self.preview.set_source(QPixmap())
            return
        self.favorite_button.blockSignals(True)
        self.favorite_button.setChecked(row.favorite)
        self.favorite_button.setIcon(icon("star-filled", ACCENT_STAR) if row.favorite else icon("star"))
        self.favorite_button.blockSignals(False)
        for k, button in enumerate(self.rating_buttons, start=1):
            button.setIcon(icon("star-filled", ACCENT_STAR) if k <= row.rating else icon("star"))
        self.copy_seed.setEnabled(row.seed is not None)
        if not same_image:
            self._load_preview(row)

    def show_placeholder(self, pixmap: QPixmap | None) -> None:
        """While the full image decodes, show the grid's thumbnail."""
        if pixmap is not None and self.preview.source().isNull():
            self.preview.set_source(pixmap)

    def _cancel_preview(self) -> None:
        if self._preview_task is not None and not self._preview_task.done():
            self._preview_task.cancel()
        self._preview_task = None

    def _load_preview(self, row: ImageRow) -> None:
        self._cancel_preview()
        self.preview.set_source(QPixmap())
        px = int(840 * self.devicePixelRatioF())
        self._preview_task = self.runner.spawn(self._decode(row.id, row.path, px), on_error=self.on_error)

    async def _decode(self, image_id: int, path: str, px: int) -> None:
        image: QImage = await asyncio.to_thread(decode_scaled, path, px)  # full-size decode: never on the GUI thread
        if self.row is None or self.row.id != image_id:
            return
        if not image.isNull():
            self.preview.set_source(QPixmap.fromImage(image))

    # -- actions ---------------------------------------------------------------------------------------
    def _copy(self, what: str) -> None:
        if self.row is None:
            return
        text = self.row.prompt if what == "prompt" else ("" if self.row.seed is None else str(self.row.seed))
        QGuiApplication.clipboard().setText(text)

    def _favorite_clicked(self, checked: bool) -> None:
        self.favoriteToggled.emit(checked)

    def _rating_clicked(self, value: int) -> None:
        if self.row is not None and self.row.rating == value:
            value = 0
        self.ratingChosen.emit(value)
