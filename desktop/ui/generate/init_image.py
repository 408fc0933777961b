"""The image-to-image source: a drop zone / file picker with a thumbnail, a clear button and a strength
slider (0-100 %). Files are read and decoded in a worker thread; the widget only shows the result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QMouseEvent, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from desktop.asyncqt import TaskRunner
from desktop.ui.dialogs import pick_paths
from desktop.ui.thumbnail_loader import decode_scaled
from providers.validation import MAX_INIT_IMAGE_BYTES

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp)"
THUMB_PX = 92


def _read(path: Path) -> tuple[bytes, QImage]:
    if path.stat().st_size > MAX_INIT_IMAGE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_INIT_IMAGE_BYTES // (1024 * 1024)} MB")
    data = path.read_bytes()
    image = decode_scaled(str(path), THUMB_PX * 2)
    if image.isNull():
        raise ValueError(f"{path.name} is not an image this app can read")
    return data, image


class DropZone(QFrame):
    clicked = Signal()
    dropped = Signal(Path)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("initDrop")
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedSize(THUMB_PX, THUMB_PX)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.label = QLabel("Drop an image\nor click")
        self.label.setObjectName("hint")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.dropped.emit(Path(urls[0].toLocalFile()))


class InitImagePicker(QWidget):
    """Emits `chosen(bytes, name)` (empty bytes = cleared) and `strengthChanged(float 0..1)`."""

    chosen = Signal(bytes, str)
    strengthChanged = Signal(float)

    def __init__(self, runner: TaskRunner, on_error: Callable[[BaseException], None] | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.on_error = on_error
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        title = QLabel("Start from image")
        title.setObjectName("fieldCaption")
        layout.addWidget(title)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.zone = DropZone()
        self.zone.clicked.connect(lambda: self.runner.spawn(self.pick(), on_error=self.on_error))
        self.zone.dropped.connect(self.load)
        row.addWidget(self.zone)
        side = QVBoxLayout()
        side.setSpacing(4)
        self.name = QLabel("")
        self.name.setObjectName("hint")
        self.name.setWordWrap(True)
        self.clear = QToolButton()
        self.clear.setText("Clear")
        self.clear.setObjectName("initClear")
        self.clear.clicked.connect(self.clear_image)
        side.addWidget(self.name)
        side.addWidget(self.clear)
        side.addStretch(1)
        row.addLayout(side, 1)
        layout.addLayout(row)
        strength_row = QHBoxLayout()
        caption = QLabel("Strength")
        caption.setObjectName("hint")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setToolTip("How much the result may differ from the source: 0 % keeps it, 100 % ignores it")
        self.value = QLabel()
        self.value.setMinimumWidth(34)
        self.slider.valueChanged.connect(self._slid)
        strength_row.addWidget(caption)
        strength_row.addWidget(self.slider, 1)
        strength_row.addWidget(self.value)
        layout.addLayout(strength_row)
        self.error = QLabel()
        self.error.setObjectName("problem")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.set_state(None, "", 0.6)

    def set_state(self, data: bytes | None, name: str, strength: float) -> None:
        has = bool(data)
        self.clear.setVisible(has)
        self.slider.setEnabled(has)
        self.name.setText(name if has else "Optional: the result keeps its composition.")
        if not has:
            self.zone.label.setPixmap(QPixmap())
            self.zone.label.setText("Drop an image\nor click")
        self.slider.blockSignals(True)
        self.slider.setValue(round(strength * 100))
        self.slider.blockSignals(False)
        self.value.setText(f"{round(strength * 100)} %")

    def _slid(self, value: int) -> None:
        self.value.setText(f"{value} %")
        self.strengthChanged.emit(value / 100)

    async def pick(self) -> None:
        paths = await pick_paths(self, "Choose a source image", name_filter=IMAGE_FILTER)
        if paths:
            await self._load(paths[0])

    def load(self, path: Path) -> None:
        self.runner.spawn(self._load(path), on_error=self.on_error)

    async def _load(self, path: Path) -> None:
        try:
            data, image = await asyncio.to_thread(_read, path)
        except (OSError, ValueError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        pm = QPixmap.fromImage(image)
        dpr = self.devicePixelRatioF()
        pm = pm.scaled(int((THUMB_PX - 8) * dpr), int((THUMB_PX - 8) * dpr), Qt.AspectRatioMode.KeepAspectRatio,
                       Qt.TransformationMode.SmoothTransformation)
        pm.setDevicePixelRatio(dpr)
        self.zone.label.setPixmap(pm)
        self.chosen.emit(data, path.name)

    def clear_image(self) -> None:
        self.error.hide()
        self.chosen.emit(b"", "")
