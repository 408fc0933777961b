"""Awaitable dialogs (always through run_dialog: no exec(), no static QMessageBox helpers in coroutines)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QLabel, QMessageBox,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from desktop.asyncqt import run_dialog


async def confirm(parent: QWidget, title: str, text: str, ok_text: str, *, detail: str = "",
                  destructive: bool = True) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.NoButton, parent)
    if detail:
        box.setInformativeText(detail)
    ok = box.addButton(ok_text, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setObjectName("confirmDialog")
    await run_dialog(box)
    return box.clickedButton() is ok


async def inform(parent: QWidget, title: str, text: str, *, error: bool = False) -> None:
    box = QMessageBox(QMessageBox.Icon.Critical if error else QMessageBox.Icon.Information, title, text,
                      QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("infoDialog")
    await run_dialog(box)


async def pick_paths(parent: QWidget, title: str, *, folder: bool = False, save_zip: bool = False,
                     name_filter: str = "") -> list[Path]:
    dialog = QFileDialog(parent, title)
    dialog.setObjectName("fileDialog")
    if folder:
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    elif save_zip:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("Zip archives (*.zip)")
        dialog.setDefaultSuffix("zip")
    else:
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        if name_filter:
            dialog.setNameFilter(name_filter)
    if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
        return []
    return [Path(p) for p in dialog.selectedFiles()]


class ImportSummaryDialog(QDialog):
    """What an import did, with every skipped file and why. Opened with run_dialog, so it never blocks."""

    def __init__(self, parent: QWidget, summary: str, skipped: list[tuple[str, str]]) -> None:
        super().__init__(parent)
        self.setObjectName("importSummary")
        self.setWindowTitle("Import finished")
        self.setModal(False)
        self.resize(640, 380)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        title = QLabel(f"<b>{summary}</b>")
        layout.addWidget(title)
        if skipped:
            layout.addWidget(QLabel("These files were not imported:"))
            self.tree = QTreeWidget()
            self.tree.setHeaderLabels(["File", "Reason"])
            self.tree.setRootIsDecorated(False)
            self.tree.setAlternatingRowColors(True)
            for path, reason in skipped:
                item = QTreeWidgetItem([Path(path).name, reason])
                item.setToolTip(0, path)
                self.tree.addTopLevelItem(item)
            self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def skipped_rows(self) -> list[tuple[str, str]]:
        tree = getattr(self, "tree", None)
        if tree is None:
            return []
        return [(tree.topLevelItem(i).text(0), tree.topLevelItem(i).text(1)) for i in range(tree.topLevelItemCount())]
