"""Gallery commands on the selected images, with an undo stack (Ctrl+Z). Owned by the LibraryViewModel.

Each command records what it needs to put things back *before* it changes them (previous ratings per image,
which images were favourites), so undo restores mixed selections exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop.services.library import LibraryService
from storage.records import ImageRow

UNDO_DEPTH = 50


@dataclass
class UndoEntry:
    label: str
    undo: Callable[[], None]


class LibraryCommands:
    def __init__(self, library: LibraryService, on_undo_changed: Callable[[str], None] | None = None) -> None:
        self.library = library
        self.stack: list[UndoEntry] = []
        self.on_undo_changed = on_undo_changed

    def _push(self, label: str, undo: Callable[[], None]) -> None:
        self.stack.append(UndoEntry(label, undo))
        del self.stack[:-UNDO_DEPTH]
        self._notify()

    def _notify(self) -> None:
        if self.on_undo_changed is not None:
            self.on_undo_changed(self.stack[-1].label if self.stack else "")

    def undo(self) -> str:
        if not self.stack:
            return ""
        entry = self.stack.pop()
        entry.undo()
        self._notify()
        return entry.label

    def _rows(self, ids: Sequence[int]) -> list[ImageRow]:
        rows = self.library.rows(ids)
        return [rows[i] for i in ids if i in rows]

    def _restore_flags(self, before: dict[int, object], setter: Callable[[list[int], object], None]) -> None:
        groups: dict[object, list[int]] = {}
        for image_id, value in before.items():
            groups.setdefault(value, []).append(image_id)
        for value, group in groups.items():
            setter(group, value)

    # -- commands ------------------------------------------------------------------------------------
    def toggle_favorite(self, ids: Sequence[int]) -> bool | None:
        rows = self._rows(ids)
        if not rows:
            return None
        value = not all(r.favorite for r in rows)  # mixed selection: make them all favourites
        before: dict[int, object] = {r.id: r.favorite for r in rows}
        self.library.set_favorite([r.id for r in rows], value)
        self._push("Favorite" if value else "Unfavorite",
                   lambda: self._restore_flags(before, lambda g, v: self.library.set_favorite(g, bool(v))))
        return value

    def set_favorite(self, ids: Sequence[int], value: bool) -> None:
        rows = self._rows(ids)
        before: dict[int, object] = {r.id: r.favorite for r in rows}
        self.library.set_favorite([r.id for r in rows], value)
        self._push("Favorite", lambda: self._restore_flags(before, lambda g, v: self.library.set_favorite(g, bool(v))))

    def rate(self, ids: Sequence[int], rating: int) -> None:
        rows = self._rows(ids)
        if not rows:
            return
        before: dict[int, object] = {r.id: r.rating for r in rows}
        self.library.set_rating([r.id for r in rows], rating)
        self._push("Clear rating" if rating == 0 else f"Rate {rating}",
                   lambda: self._restore_flags(before, lambda g, v: self.library.set_rating(g, int(v))))  # type: ignore[call-overload]

    def toggle_reject(self, ids: Sequence[int]) -> bool | None:
        rows = self._rows(ids)
        if not rows:
            return None
        value = not all(r.rejected for r in rows)
        before: dict[int, object] = {r.id: r.rejected for r in rows}
        self.library.set_rejected([r.id for r in rows], value)
        self._push("Reject" if value else "Unreject",
                   lambda: self._restore_flags(before, lambda g, v: self.library.set_rejected(g, bool(v))))
        return value

    def trash(self, ids: Sequence[int]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        self.library.trash(ids)
        self._push(f"Move {len(ids)} to trash", lambda: self.library.restore(ids))
        return len(ids)

    def restore(self, ids: Sequence[int]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        self.library.restore(ids)
        self._push(f"Restore {len(ids)}", lambda: self.library.trash(ids))
        return len(ids)

    def add_to_collection(self, collection_id: int, ids: Sequence[int]) -> None:
        ids = list(ids)
        self.library.add_to_collection(collection_id, ids)
        self._push("Add to collection", lambda: self.library.remove_from_collection(collection_id, ids))

    def remove_from_collection(self, collection_id: int, ids: Sequence[int], order: Sequence[int]) -> None:
        ids, previous = list(ids), list(order)
        if not ids:
            return
        self.library.remove_from_collection(collection_id, ids)

        def undo() -> None:
            self.library.add_to_collection(collection_id, ids)
            self.library.reorder_collection(collection_id, previous)

        self._push("Remove from collection", undo)

    def reorder(self, collection_id: int, old_order: Sequence[int], moved: Sequence[int], target: int) -> list[int]:
        """Move `moved` so they sit before position `target` of `old_order`; returns the new order."""
        new_order = move_ids(old_order, moved, target)
        if new_order == list(old_order):
            return new_order
        previous = list(old_order)
        self.library.reorder_collection(collection_id, new_order)
        self._push("Reorder", lambda: self.library.reorder_collection(collection_id, previous))
        return new_order

    def clear(self) -> None:
        self.stack.clear()
        self._notify()


def move_ids(order: Sequence[int], moved: Sequence[int], target: int) -> list[int]:
    """`order` with `moved` (kept in their current relative order) inserted before index `target`."""
    moving = set(moved)
    block = [i for i in order if i in moving]
    before = sum(1 for i in order[:max(0, target)] if i in moving)
    rest = [i for i in order if i not in moving]
    at = max(0, min(len(rest), target - before))
    return rest[:at] + block + rest[at:]
