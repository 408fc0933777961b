"""The queue dock: one card per job (newest first) with its state, progress, image slots filling in as the
images arrive, and Cancel / Retry; a header with counts, Cancel all and Clear finished, and a short-lived
status line for what the last command did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from desktop.asyncqt import TaskRunner
from desktop.ui.generate.jobs_model import JobItem, JobsModel
from desktop.ui.thumbnail_loader import decode_scaled

SLOT_PX = 44
MAX_SLOTS = 10
STATUS_MS = 6000  # a command's status line ("Retrying job 3 as job 4") is news, not state: it expires
STATE_TEXT = {"pending": "Waiting", "running": "Generating", "done": "Done", "failed": "Failed",
              "cancelled": "Cancelled"}

QUEUE_STYLE = """
QFrame#jobCard { border: 1px solid palette(midlight); border-radius: 8px; background: palette(base); }
QLabel#jobPrompt { font-weight: 600; }
QLabel#jobMeta, QLabel#jobNote { color: palette(placeholder-text); }
QLabel#jobState { font-weight: 600; padding: 1px 8px; border-radius: 8px; }
QLabel#jobState[state="running"] { color: #1d6fd6; background: rgba(29, 111, 214, 0.12); }
QLabel#jobState[state="pending"] { color: palette(placeholder-text); background: rgba(128, 128, 128, 0.14); }
QLabel#jobState[state="done"] { color: #2b8a3e; background: rgba(43, 138, 62, 0.13); }
QLabel#jobState[state="failed"] { color: #c92a2a; background: rgba(201, 42, 42, 0.12); }
QLabel#jobState[state="cancelled"] { color: #8a6d1d; background: rgba(200, 150, 30, 0.15); }
QLabel#jobError { color: #c92a2a; }
QToolButton#jobCancel, QToolButton#jobRetry { padding: 2px 10px; }
QFrame#queueStatus { background: palette(alternate-base); border: 1px solid palette(midlight); border-radius: 6px; }
QLabel#jobSlot { border: 1px dashed palette(mid); border-radius: 5px; background: palette(alternate-base); }
QLabel#jobSlot[filled="true"] { border: 1px solid palette(midlight); }
QProgressBar { border: none; border-radius: 3px; background: palette(midlight); max-height: 6px; }
QProgressBar::chunk { border-radius: 3px; background: palette(highlight); }
"""


def queue_title(counts: dict[str, int]) -> str:
    """The dock's tab title: what is going on in the queue while the Details tab is in front."""
    active = counts.get("pending", 0) + counts.get("running", 0)
    if active:
        return f"Queue · {active} active"
    if counts.get("failed", 0):
        return f"Queue · {counts['failed']} failed"
    return "Queue"


class ElidedLabel(QLabel):
    """One line that ends in "…" when the dock is narrow (a plain QLabel just cuts the text off)."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(" ".join(self.text().split()), Qt.TextElideMode.ElideRight,
                                             rect.width())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)


class JobCard(QFrame):
    """Title row (state + prompt, the full width), the failure reason right under it, details, and the slots
    with Cancel / Retry at their right, so the buttons never squeeze the title."""

    def __init__(self, item: JobItem, on_cancel: Callable[[int], None], on_retry: Callable[[int], None]) -> None:
        super().__init__()
        self.setObjectName("jobCard")
        self.job_id = item.job_id
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        top = QHBoxLayout()
        top.setSpacing(8)
        self.state = QLabel()
        self.state.setObjectName("jobState")
        self.prompt = ElidedLabel()
        self.prompt.setObjectName("jobPrompt")
        top.addWidget(self.state)
        top.addWidget(self.prompt, 1)
        layout.addLayout(top)
        self.error = QLabel()  # first thing under the title: why it failed must be readable without scrolling
        self.error.setObjectName("jobError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.error)
        self.meta = QLabel()
        self.meta.setObjectName("jobMeta")
        self.meta.setWordWrap(True)
        layout.addWidget(self.meta)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        layout.addWidget(self.bar)
        slots = QHBoxLayout()
        slots.setSpacing(6)
        self.slots: list[QLabel] = []
        for _ in range(max(1, min(item.count, MAX_SLOTS))):
            slot = QLabel()
            slot.setObjectName("jobSlot")
            slot.setFixedSize(SLOT_PX, SLOT_PX)
            slot.setAlignment(Qt.AlignmentFlag.AlignCenter)
            slots.addWidget(slot)
            self.slots.append(slot)
        slots.addStretch(1)
        layout.addLayout(slots)
        self.note = QLabel()
        self.note.setObjectName("jobNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setObjectName("jobCancel")
        self.cancel.setToolTip("Stop this job (the card says whether the provider may still bill it)")
        self.cancel.clicked.connect(lambda: on_cancel(self.job_id))
        self.retry = QToolButton()
        self.retry.setText("Retry")
        self.retry.setObjectName("jobRetry")
        self.retry.setToolTip("Run this job again with the same parameters")
        self.retry.clicked.connect(lambda: on_retry(self.job_id))
        for button in (self.cancel, self.retry):  # right of the image slots: no extra row, the title keeps its width
            slots.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)
        self.filled: dict[int, int] = {}  # image id -> slot index
        self.update_from(item)

    def update_from(self, item: JobItem, now: float | None = None) -> None:
        self.state.setText(STATE_TEXT.get(item.state, item.state))
        if self.state.property("state") != item.state:
            self.state.setProperty("state", item.state)
            self.state.style().unpolish(self.state)
            self.state.style().polish(self.state)
        self.prompt.setText(item.prompt)
        images = f"{item.count} image{'s' if item.count != 1 else ''}"
        meta = [item.provider, item.model, images]
        if item.saved and item.state != "done":
            meta.append(f"{item.saved} saved")
        if item.state == "running" and item.started_at is not None:
            elapsed = int((now or time.monotonic()) - item.started_at)
            meta.append(f"{elapsed // 60}:{elapsed % 60:02d} of ~{int(item.typical_s)} s")
        if item.fallback_from:
            meta.append(f"fell back from {item.fallback_from}")
        self.meta.setText(" · ".join(m for m in meta if m))
        self.bar.setVisible(item.state in ("pending", "running"))
        self.bar.setValue(int(item.shown_progress(now) * 1000))
        self.cancel.setVisible(not item.finished)
        self.retry.setVisible(item.state in ("failed", "cancelled"))
        failed = item.state == "failed" and bool(item.message)
        self.error.setText(item.message if failed else "")
        self.error.setToolTip(item.message if failed else "")
        self.error.setVisible(failed)
        status = item.note or ("" if failed or item.state == "done" else item.message)
        self.note.setText(status)
        self.note.setVisible(bool(status))
        tip = [item.prompt] + ([f"Failed: {item.message}"] if failed else [])
        self.prompt.setToolTip("\n\n".join(tip))
        for slot in self.slots:
            slot.setVisible(item.state != "failed" or bool(self.filled))

    def fill(self, image_id: int, pixmap: QPixmap) -> None:
        if image_id in self.filled:
            index = self.filled[image_id]
        elif len(self.filled) < len(self.slots):
            index = len(self.filled)
            self.filled[image_id] = index
        else:
            return
        slot = self.slots[index]
        dpr = self.devicePixelRatioF()
        scaled = pixmap.scaled(int(SLOT_PX * dpr), int(SLOT_PX * dpr), Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                               Qt.TransformationMode.SmoothTransformation)
        scaled.setDevicePixelRatio(dpr)
        slot.setPixmap(scaled)
        slot.setProperty("filled", True)
        slot.style().unpolish(slot)
        slot.style().polish(slot)

    def filled_count(self) -> int:
        return len(self.filled)


class QueueView(QWidget):
    """Binds to a JobsModel; thumbnails of arriving images are decoded in a worker thread."""

    def __init__(self, model: JobsModel, runner: TaskRunner, thumb_path: Callable[[int], str | None],
                 on_error: Callable[[BaseException], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueView")
        self.setStyleSheet(QUEUE_STYLE)
        self.model = model
        self.runner = runner
        self.thumb_path = thumb_path
        self.on_error = on_error
        self.cards: dict[int, JobCard] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        outer.setSpacing(8)
        self.counts = QLabel()
        self.counts.setObjectName("hint")
        self.counts.setWordWrap(True)
        outer.addWidget(self.counts)  # own row: the buttons keep their size in a narrow dock
        header = QHBoxLayout()
        header.addStretch(1)
        self.cancel_all = QPushButton("Cancel all")
        self.cancel_all.setObjectName("cancelAll")
        self.cancel_all.clicked.connect(self._cancel_all)
        self.clear = QPushButton("Clear finished")
        self.clear.clicked.connect(model.clear_finished)
        header.addWidget(self.cancel_all)
        header.addWidget(self.clear)
        outer.addLayout(header)
        self.status_box = QFrame()
        self.status_box.setObjectName("queueStatus")
        status_row = QHBoxLayout(self.status_box)
        status_row.setContentsMargins(8, 4, 4, 4)
        status_row.setSpacing(4)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        status_row.addWidget(self.status, 1)
        self.dismiss = QToolButton()
        self.dismiss.setObjectName("dismissStatus")
        self.dismiss.setText("✕")
        self.dismiss.setAutoRaise(True)
        self.dismiss.setToolTip("Dismiss")
        self.dismiss.clicked.connect(self.clear_status)
        status_row.addWidget(self.dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.status_box.hide()
        outer.addWidget(self.status_box)
        self.status_timer = QTimer(self)
        self.status_timer.setSingleShot(True)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self.clear_status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.list = QVBoxLayout(body)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(8)
        self.empty = QLabel("No generations yet. Type a prompt and press Generate (Ctrl+Enter).")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.list.addWidget(self.empty)
        self.list.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(250)  # elapsed-time progress for jobs whose provider reports none
        self.timer.timeout.connect(self._tick)
        model.added.connect(self._added)
        model.changed.connect(self._changed)
        model.removed.connect(self._removed)
        for job_id in sorted(model.items):
            self._added(job_id)
        self._refresh_header()

    def _added(self, job_id: int) -> None:
        item = self.model.items[job_id]
        card = JobCard(item, self.cancel_job, self.retry_job)
        self.cards[job_id] = card
        self.list.insertWidget(0, card)  # newest first
        self._changed(job_id)

    def _removed(self, job_id: int) -> None:
        card = self.cards.pop(job_id, None)
        if card is not None:
            card.setParent(None)
            card.deleteLater()
        self._refresh_header()

    def _changed(self, job_id: int) -> None:
        item = self.model.items.get(job_id)
        card = self.cards.get(job_id)
        if item is None or card is None:
            return
        card.update_from(item)
        for image_id in item.image_ids:
            if image_id not in card.filled:
                card.filled[image_id] = len(card.filled) if len(card.filled) < len(card.slots) else -1
                if card.filled[image_id] >= 0:
                    self.runner.spawn(self._load_thumb(card, image_id), on_error=self.on_error)
        if self.model.any_running() and not self.timer.isActive():
            self.timer.start()
        self._refresh_header()

    async def _load_thumb(self, card: JobCard, image_id: int) -> None:
        path = self.thumb_path(image_id)
        if not path:
            return
        image: QImage = await asyncio.to_thread(decode_scaled, path, 128)  # never decode on the GUI thread
        if not image.isNull() and self.cards.get(card.job_id) is card:
            card.fill(image_id, QPixmap.fromImage(image))

    def _tick(self) -> None:
        now = time.monotonic()
        running = [i for i in self.model.items.values() if i.state == "running"]
        for item in running:
            card = self.cards.get(item.job_id)
            if card is not None:
                card.update_from(item, now)
        if not running:
            self.timer.stop()

    def _refresh_header(self) -> None:
        counts = self.model.counts()
        parts = [f"{n} {name}" for name, n in counts.items() if n]
        self.counts.setText(" · ".join(parts) if parts else "Queue is empty")
        self.empty.setVisible(not self.model.items)
        self.cancel_all.setEnabled(counts["pending"] + counts["running"] > 0)
        self.clear.setEnabled(counts["done"] + counts["failed"] + counts["cancelled"] > 0)

    # -- commands -----------------------------------------------------------------------------------------
    def cancel_job(self, job_id: int) -> str:
        note = self.model.cancel(job_id)
        self._show_status(f"Job {job_id}: {note}")
        return note

    def retry_job(self, job_id: int) -> int | None:
        try:
            new_id = self.model.retry(job_id)
        except Exception as exc:  # invalid now (e.g. a key was removed): say so instead of failing silently
            self._show_status(f"Cannot retry: {exc}")
            return None
        self._show_status(f"Retrying job {job_id} as job {new_id}")
        return new_id

    def _cancel_all(self) -> None:
        n = self.model.cancel_all()
        self._show_status(f"Cancelled {n} job(s). Providers without a cancel call may still bill requests "
                          "they already received." if n else "Nothing to cancel")

    def _show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status_box.setVisible(bool(text))
        if text:
            self.status_timer.start()  # restarts: each new message gets its full time

    def clear_status(self) -> None:
        self.status_timer.stop()
        self.status.setText("")
        self.status_box.hide()
