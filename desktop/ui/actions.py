"""One table of window actions: it creates the QActions, the menus and the Keyboard Shortcuts dialog, so the
three can never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from desktop.ui.icons import icon


@dataclass(frozen=True)
class ActionSpec:
    key: str
    text: str
    menu: str  # "File" | "Edit" | "View" | "Help" | "" (shortcut only, listed under "Gallery")
    shortcuts: tuple[str, ...] = ()
    icon: str = ""
    tip: str = ""
    checkable: bool = False
    separator_before: bool = False
    gallery_only: bool = False  # single-key shortcuts: only while the gallery has focus (never while typing)
    viewer: bool = False  # lives on the full-size viewer window, not the main window


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("import_files", "Import images…", "File", ("Ctrl+I",), "import"),
    ActionSpec("import_folder", "Import folder…", "File", ("Ctrl+Shift+I",), "folder"),
    ActionSpec("export_collection", "Export collection…", "File", ("Ctrl+E",), "export", separator_before=True),
    ActionSpec("new_collection", "New collection…", "File", ("Ctrl+N",), "plus"),
    ActionSpec("quit", "Quit", "File", ("Ctrl+Q",), separator_before=True),
    ActionSpec("undo", "Undo", "Edit", ("Ctrl+Z",), "undo"),
    ActionSpec("select_all", "Select all", "Edit", ("Ctrl+A",), separator_before=True),
    ActionSpec("select_none", "Select none", "Edit", ("Ctrl+Shift+A",)),
    ActionSpec("favorite", "Toggle favorite", "Edit", ("F", "."), "star", separator_before=True, gallery_only=True),
    *(ActionSpec(f"rate_{n}", f"Rate {n} star{'s' if n > 1 else ''}", "Edit", (str(n),), gallery_only=True)
      for n in range(1, 6)),
    ActionSpec("rate_0", "Clear rating", "Edit", ("0",), gallery_only=True),
    ActionSpec("reject", "Toggle reject", "Edit", ("X",), "reject", gallery_only=True),
    ActionSpec("remove_from_collection", "Remove from collection", "Edit", ("Backspace",), gallery_only=True),
    ActionSpec("trash", "Move to trash", "Edit", ("Del",), "trash", separator_before=True, gallery_only=True),
    ActionSpec("restore", "Restore from trash", "Edit", ("Ctrl+R",)),
    ActionSpec("empty_trash", "Empty trash…", "Edit", ()),
    ActionSpec("rename_collection", "Rename collection", "Edit", ("F2",), separator_before=True),
    ActionSpec("move_earlier", "Move earlier in collection", "Edit", ("Ctrl+Shift+Left",), gallery_only=True),
    ActionSpec("move_later", "Move later in collection", "Edit", ("Ctrl+Shift+Right",), gallery_only=True),
    ActionSpec("find", "Search", "View", ("Ctrl+F",), "search"),
    ActionSpec("open_viewer", "View full size", "View", ("Return", "Enter"), gallery_only=True,
               separator_before=True),
    ActionSpec("bigger", "Larger thumbnails", "View", ("Ctrl+=", "Ctrl++"), separator_before=True),
    ActionSpec("smaller", "Smaller thumbnails", "View", ("Ctrl+-",)),
    ActionSpec("show_trash", "Show trash", "View", ("Ctrl+Shift+T",), "trash", checkable=True,
               separator_before=True),
    ActionSpec("sort_newest", "Sort: newest first", "View", (), checkable=True, separator_before=True),
    ActionSpec("sort_oldest", "Sort: oldest first", "View", (), checkable=True),
    ActionSpec("sort_rating", "Sort: top rated", "View", (), checkable=True),
    ActionSpec("sort_collection", "Sort: collection order", "View", (), checkable=True),
    ActionSpec("toggle_details", "Show details panel", "View", ("Ctrl+Shift+D",), checkable=True,
               separator_before=True),
    ActionSpec("shortcuts", "Keyboard shortcuts", "Help", ("Ctrl+/", "F1"), "keyboard"),
    ActionSpec("about", "About AI Images Studio", "Help", ()),
    ActionSpec("viewer_prev", "Previous image", "", ("Left",), viewer=True),
    ActionSpec("viewer_next", "Next image", "", ("Right",), viewer=True),
    ActionSpec("viewer_first", "First image", "", ("Home",), viewer=True),
    ActionSpec("viewer_last", "Last image", "", ("End",), viewer=True),
    ActionSpec("viewer_close", "Close viewer", "", ("Esc",), viewer=True),
)


def build_actions(parent: QWidget, handlers: dict[str, Callable[[], None]],
                  gallery: QWidget, *, viewer: bool = False) -> dict[str, QAction]:
    """QActions for the main window's specs (or, with viewer=True, the viewer's); gallery-only actions live on
    the gallery widget so typing never fires them."""
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        if spec.viewer != viewer:
            continue
        action = QAction(icon(spec.icon) if spec.icon else QAction(parent).icon(), spec.text, parent)
        action.setObjectName(f"action_{spec.key}")
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        action.setCheckable(spec.checkable)
        if spec.tip:
            action.setToolTip(spec.tip)
        if spec.gallery_only:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            gallery.addAction(action)
        else:
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            parent.addAction(action)
        handler = handlers.get(spec.key)
        if handler is not None:
            action.triggered.connect(lambda _checked=False, h=handler: h())
        actions[spec.key] = action
    return actions


def shortcut_rows() -> list[tuple[str, str, str]]:
    """(group, action, keys) for the shortcuts dialog, in menu order."""
    rows = []
    for spec in SPECS:
        if not spec.shortcuts:
            continue
        keys = ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts)
        rows.append(("Image viewer" if spec.viewer else spec.menu or "Gallery", spec.text, keys))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(460, 560)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        hint = QLabel("Single-key shortcuts work while the gallery has the keyboard focus. In the grid, the arrow "
                      "keys, Home, End, Page Up and Page Down move; with Shift they extend the selection.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        groups: dict[str, QTreeWidgetItem] = {}
        for group, text, keys in shortcut_rows():
            parent_item = groups.get(group)
            if parent_item is None:
                parent_item = groups[group] = QTreeWidgetItem([group, ""])
                font = parent_item.font(0)
                font.setBold(True)
                parent_item.setFont(0, font)
                self.tree.addTopLevelItem(parent_item)
            QTreeWidgetItem(parent_item, [text, keys])
        self.tree.expandAll()
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
