"""The prompt and parameters view: only the controls the chosen model supports, a "will send" summary, the
reason Generate is disabled, and a Generate button showing the cost (confirmed above a threshold).

bind(vm) lists all of its wiring; the view never calls services (architecture §12).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from desktop.asyncqt import TaskRunner
from desktop.ui.dialogs import confirm
from desktop.ui.generate.fields import Field, SeedControl, fill_combo, select
from desktop.ui.generate.history import HistoryPopup, PromptHistory
from desktop.ui.generate.init_image import InitImagePicker
from desktop.ui.icons import icon
from desktop.viewmodels.generation import GenerateViewModel
from desktop.viewmodels.generation_form import CUSTOM, Option

COLUMNS = 4  # at most; fewer when the panel is too narrow for four fields side by side
COLUMN_STRETCH = (3, 4, 4, 2)
PANEL_STYLE = """
QLabel#fieldCaption { color: palette(placeholder-text); font-size: 8.5pt; font-weight: 600; }
QLabel#summary { color: palette(placeholder-text); }
QLabel#problem { color: #c92a2a; }
QLabel#promptCount { color: palette(placeholder-text); font-size: 8.5pt; }
QFrame#initDrop { border: 1px dashed palette(mid); border-radius: 8px; background: palette(alternate-base); }
QPushButton#generateButton { font-weight: 600; padding: 7px 18px; border-radius: 6px;
    background: palette(highlight); color: palette(highlighted-text); border: none; }
QPushButton#generateButton:disabled { background: palette(midlight); color: palette(placeholder-text); }
QPlainTextEdit { border-radius: 6px; }
"""


class GenerationPanel(QFrame):
    def __init__(self, vm: GenerateViewModel, runner: TaskRunner, history: PromptHistory,
                 on_error: Callable[[BaseException], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generatePanel")
        self.setStyleSheet(PANEL_STYLE)
        self.vm = vm
        self.runner = runner
        self.history = history
        self.on_error = on_error
        self._syncing = False
        self._confirming = False
        self._build()
        self.bind(vm)

    # -- construction ------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(10)

        top = QHBoxLayout()
        top.setSpacing(14)
        texts = QVBoxLayout()
        texts.setSpacing(6)
        head = QHBoxLayout()
        caption = QLabel("Prompt")
        caption.setObjectName("fieldCaption")
        self.history_button = QToolButton()
        self.history_button.setObjectName("historyButton")
        self.history_button.setText("History")
        self.history_button.setIcon(icon("search"))
        self.history_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.history_button.setAutoRaise(True)
        self.history_button.setToolTip("Search the prompts of past generations and library images")
        self.prompt_count = QLabel()
        self.prompt_count.setObjectName("promptCount")
        head.addWidget(caption)
        head.addStretch(1)
        head.addWidget(self.prompt_count)
        head.addWidget(self.history_button)
        texts.addLayout(head)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("promptEditor")
        self.prompt.setPlaceholderText("Describe the image you want to create…  (Ctrl+Enter generates)")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setMinimumHeight(60)
        self.prompt.setMaximumHeight(96)
        texts.addWidget(self.prompt)
        self.negative = QPlainTextEdit()
        self.negative.setObjectName("negativeEditor")
        self.negative.setPlaceholderText("Negative prompt: what to keep out (optional)")
        self.negative.setTabChangesFocus(True)
        self.negative.setFixedHeight(40)
        texts.addWidget(self.negative)
        top.addLayout(texts, 1)
        self.init = InitImagePicker(self.runner, self.on_error)
        self.init.setFixedWidth(236)
        top.addWidget(self.init, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)

        self.provider = QComboBox()
        self.provider.setObjectName("providerCombo")
        self.model = QComboBox()
        self.model.setObjectName("modelCombo")
        self.shape = QComboBox()
        self.shape.setObjectName("shapeCombo")
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, name in ((self.width_box, "width"), (self.height_box, "height")):
            box.setObjectName(f"{name}Spin")
            box.setSingleStep(64)
            box.setSuffix(" px")
            box.setMinimumWidth(84)
        self.times = QLabel("×")
        self.count = QSpinBox()
        self.count.setObjectName("countSpin")
        self.count.setMinimumWidth(64)
        self.count.setMaximumWidth(110)
        self.seed = SeedControl()
        self.style_combo = QComboBox()
        self.style_combo.setObjectName("styleCombo")
        self.quality = QComboBox()
        self.quality.setObjectName("qualityCombo")
        for combo in (self.provider, self.model, self.shape, self.style_combo, self.quality):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.fields: dict[str, Field] = {
            "provider": Field("PROVIDER", self.provider, name="providerField"),
            "model": Field("MODEL", self.model, name="modelField"),
            "size": Field("SIZE", self.shape, self.width_box, self.times, self.height_box, name="sizeField"),
            "count": Field("IMAGES", self.count, name="countField"),
            "seed": Field("SEED", self.seed, name="seedField"),
            "style": Field("STYLE", self.style_combo, name="styleField"),
            "quality": Field("QUALITY", self.quality, name="qualityField"),
        }
        self.fields["count"].row.addStretch(1)  # the narrow spin box sits at the left of its cell
        for field in self.fields.values():
            field.setParent(self)  # parented up front: showing a parentless widget would open a window
            field.hide()
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(8)
        self.columns = COLUMNS
        self._placed: tuple[object, ...] = ()
        outer.addLayout(self.grid)

        bottom = QHBoxLayout()
        bottom.setSpacing(12)
        notes = QVBoxLayout()
        notes.setSpacing(2)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)  # a narrow window gets two lines, not a cut-off summary
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        notes.addWidget(self.summary)
        notes.addWidget(self.problem)
        bottom.addLayout(notes, 1)
        self.generate = QPushButton(icon("sparkle"), "Generate")
        self.generate.setObjectName("generateButton")
        self.generate.setMinimumWidth(190)
        self.generate.setCursor(Qt.CursorShape.PointingHandCursor)
        bottom.addWidget(self.generate, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(bottom)
        self.history_popup = HistoryPopup(self.history, self)

    # -- wiring ------------------------------------------------------------------------------------------
    def bind(self, vm: GenerateViewModel) -> None:
        vm.capabilitiesChanged.connect(self._rebuild)
        vm.providersChanged.connect(self._fill_providers)
        vm.formChanged.connect(self._sync)
        vm.validationChanged.connect(self._show_validation)
        self.prompt.textChanged.connect(lambda: self._edit(prompt=self.prompt.toPlainText()))
        self.negative.textChanged.connect(lambda: self._edit(negative_prompt=self.negative.toPlainText()))
        self.provider.currentIndexChanged.connect(lambda _i: vm.set_provider(self.provider.currentData()))
        self.model.currentIndexChanged.connect(lambda _i: vm.set_model(self.model.currentData()))
        self.shape.currentIndexChanged.connect(lambda _i: self._edit(shape=self.shape.currentData()))
        self.width_box.valueChanged.connect(lambda v: self._edit(width=int(v)))
        self.height_box.valueChanged.connect(lambda v: self._edit(height=int(v)))
        self.count.valueChanged.connect(lambda v: self._edit(count=int(v)))
        self.seed.modeChanged.connect(lambda m: self._edit(seed_mode=m))
        self.seed.seedChanged.connect(lambda s: self._edit(seed=s))
        self.seed.diceClicked.connect(vm.random_seed)
        self.style_combo.currentIndexChanged.connect(lambda _i: self._edit(style=self.style_combo.currentData()))
        self.quality.currentIndexChanged.connect(lambda _i: self._edit(quality=self.quality.currentData()))
        self.init.chosen.connect(lambda data, name: self._edit(init_image=data or None, init_name=name))
        self.init.strengthChanged.connect(lambda s: self._edit(strength=s))
        self.generate.clicked.connect(self.start_generate)
        self.history_button.clicked.connect(self.show_history)
        self.history_popup.chosen.connect(self.use_prompt)
        vm.submitted.connect(lambda _id: self.history.add(vm.form.prompt))
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.start_generate)
        self._fill_providers()
        self._rebuild()
        self._show_validation()

    def _edit(self, **changes: object) -> None:
        if not self._syncing:
            self.vm.update(**changes)

    # -- view updates ------------------------------------------------------------------------------------
    def _fill_providers(self) -> None:
        self._syncing = True
        fill_combo(self.provider, [Option(c.id, c.label) for c in self.vm.providers()], self.vm.form.provider)
        self._syncing = False

    def _rebuild(self) -> None:
        """Show only the controls the chosen model supports, packed into the grid without gaps."""
        caps = self.vm.caps()
        self._syncing = True
        select(self.provider, self.vm.form.provider)
        fill_combo(self.model, [Option(m.model, m.label) for m in self.vm.info().models], caps.model)
        fill_combo(self.shape, self.vm.shape_options(), self.vm.form.shape)
        for box in (self.width_box, self.height_box):
            box.setRange(caps.min_side, caps.max_side)
        self.count.setRange(1, max(1, caps.max_count))
        fill_combo(self.style_combo, self.vm.style_options(), self.vm.form.style)
        fill_combo(self.quality, [Option("", "Default")] + [Option(q, q.capitalize()) for q in caps.qualities],
                   self.vm.form.quality)
        self._syncing = False
        visible = {
            "provider": True, "model": True,
            "size": self.shape.count() > 0, "count": caps.max_count > 1, "seed": caps.seed,
            "style": self.style_combo.count() > 1, "quality": bool(caps.qualities),
        }
        for key, field in self.fields.items():
            field.setVisible(visible[key])
        self.negative.setVisible(caps.negative_prompt)
        self.init.setVisible(caps.img2img)
        self.count.setToolTip(f"{caps.label} makes up to {caps.max_count} images per run")
        self._sync()

    def _sync(self) -> None:
        form = self.vm.form
        self._syncing = True
        try:
            if self.prompt.toPlainText() != form.prompt:
                self.prompt.setPlainText(form.prompt)
            if self.negative.toPlainText() != form.negative_prompt:
                self.negative.setPlainText(form.negative_prompt)
            select(self.shape, form.shape)
            custom = form.shape == CUSTOM
            for widget in (self.width_box, self.times, self.height_box):
                widget.setVisible(custom)
            self._place_fields()  # the custom size needs a wider cell
            self.width_box.setValue(form.width)
            self.height_box.setValue(form.height)
            self.count.setValue(form.count)
            self.seed.set_state(form.seed_mode, form.seed)
            select(self.style_combo, form.style)
            select(self.quality, form.quality)
            self.init.set_state(form.init_image, form.init_name, form.strength)
            limit = self.vm.caps().max_prompt_chars
            self.prompt_count.setText(f"{len(form.prompt):,} / {limit:,}")
        finally:
            self._syncing = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_fields()

    def _place_fields(self) -> None:
        """Pack the visible fields into as many columns (up to four) as their minimum widths allow at the
        current width, so a narrow window gets more rows instead of squashed, overlapping controls."""
        shown = [f for f in self.fields.values() if not f.isHidden()]
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right()
        spacing = self.grid.horizontalSpacing()
        columns = 1
        for n in range(min(COLUMNS, max(1, len(shown))), 0, -1):
            widths = [0] * n
            for i, field in enumerate(shown):
                widths[i % n] = max(widths[i % n], field.minimumSizeHint().width())
            if sum(widths) + spacing * (n - 1) <= room:
                columns = n
                break
        key = (columns, tuple(id(f) for f in shown), tuple(f.minimumSizeHint().width() for f in shown))
        if key == self._placed:
            return
        self._placed = key
        self.columns = columns
        for field in self.fields.values():
            self.grid.removeWidget(field)
        for col in range(COLUMNS):
            self.grid.setColumnStretch(col, (COLUMN_STRETCH[col] if columns == COLUMNS else 1) if col < columns
                                       else 0)
        for position, field in enumerate(shown):
            self.grid.addWidget(field, position // columns, position % columns, Qt.AlignmentFlag.AlignTop)

    def _show_validation(self) -> None:
        problems = self.vm.problems
        cost = self.vm.cost_text
        self.summary.setText(f"Will send: {self.vm.summary}")
        self.summary.setToolTip(self.summary.text())
        self.generate.setText(f"Generate · {cost}" if cost != "price unknown" else "Generate")
        self.generate.setEnabled(not problems and not self._confirming)
        if problems:
            only_empty = problems == ["the prompt is empty"]
            text = "Type a prompt to generate." if only_empty else "Can’t generate: " + "; ".join(problems)
            self.problem.setText(text)
            self.problem.setStyleSheet("color: palette(placeholder-text);" if only_empty else "")
            self.generate.setToolTip(text)
        else:
            self.problem.setText("")
            self.generate.setToolTip(f"Generate ({cost}) — Ctrl+Enter")
        self.problem.setVisible(bool(problems))

    # -- commands ----------------------------------------------------------------------------------------
    def start_generate(self) -> None:
        if self.generate.isEnabled():
            self.runner.spawn(self.run_generate(), on_error=self.on_error)

    async def run_generate(self) -> int | None:
        """Ask before an expensive run (never a nested event loop), then submit exactly once."""
        if self._confirming or not self.vm.can_submit:
            return None
        if self.vm.needs_confirmation():
            self._confirming = True
            self.generate.setEnabled(False)  # one click, one job: no second submit while the dialog is up
            try:
                ok = await confirm(self, "Confirm the cost", f"This generation will cost {self.vm.cost_text}.",
                                   "Generate", destructive=False,
                                   detail=f"{self.vm.summary}\n\nYou are asked above "
                                          f"${self.vm.confirm_threshold():.2f} (Settings: confirm_cost_usd).")
            finally:
                self._confirming = False
                self._show_validation()
            if not ok:
                return None
        return self.vm.submit()

    def show_history(self) -> None:
        anchor = self.prompt.mapToGlobal(QPoint(0, self.prompt.height()))
        self.history_popup.resize(max(420, self.prompt.width()), 320)
        self.history_popup.show_at(anchor)

    def use_prompt(self, prompt: str) -> None:
        self.vm.update(prompt=prompt)
        self.prompt.setFocus()
