"""Collections: named, ordered sets of library images (an image may be in many; deleting one keeps images)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from storage.base import StoreBase, chunks
from storage.layout import thumb_path_for
from storage.queries import collection_id_by_name
from storage.records import CollectionRow

_LIVE_ITEMS = ("FROM collection_item ci JOIN image i ON i.id = ci.image_id "
               "WHERE ci.collection_id = c.id AND i.trashed_at IS NULL")


class CollectionOps(StoreBase):
    """The collection half of storage.library.Library."""

    # -- reading --------------------------------------------------------------------------------------------

    def collections(self) -> list[CollectionRow]:
        """All collections with live (non-trashed) image counts; cover = explicit cover, else first item."""
        rows = self._db.execute_sql(
            f"SELECT c.id, c.name, c.created_at, "
            f"(SELECT i.id {_LIVE_ITEMS} AND i.id = c.cover_id), "
            f"(SELECT count(*) {_LIVE_ITEMS}), "
            f"(SELECT i.id {_LIVE_ITEMS} ORDER BY ci.position, ci.id LIMIT 1) "
            f"FROM collection c ORDER BY c.position, c.name COLLATE NOCASE").fetchall()
        covers = [row[3] if row[3] is not None else row[5] for row in rows]
        shas = self._shas([c for c in covers if c is not None])
        return [CollectionRow(id=row[0], name=row[1], count=row[4], cover_image_id=cover,
                              cover_thumb_path=str(thumb_path_for(self._paths, shas[cover])) if cover else "",
                              created_at=row[2])
                for row, cover in zip(rows, covers)]

    def collection_by_name(self, name: str) -> CollectionRow | None:
        collection_id = collection_id_by_name(self._db, name)
        return next((c for c in self.collections() if c.id == collection_id), None)

    def collection_image_ids(self, collection_id: int) -> list[int]:
        """Ids of the collection's images that are not in the trash, in collection order."""
        rows = self._db.execute_sql(
            "SELECT ci.image_id FROM collection_item ci JOIN image i ON i.id = ci.image_id "
            "WHERE ci.collection_id = ? AND i.trashed_at IS NULL ORDER BY ci.position, ci.id",
            (collection_id,))
        return [row[0] for row in rows]

    # -- collections ----------------------------------------------------------------------------------------

    def create_collection(self, name: str) -> int:
        clean = self._valid_name(name)
        with self._write("create the collection"):
            position = self._db.execute_sql(
                "SELECT coalesce(max(position), -1) + 1 FROM collection").fetchone()[0]
            cursor = self._db.execute_sql(
                "INSERT INTO collection (name, created_at, position) VALUES (?, ?, ?)",
                (clean, time.time(), position))
            return int(cursor.lastrowid)

    def rename_collection(self, collection_id: int, name: str) -> None:
        self._require(collection_id)
        clean = self._valid_name(name, ignore_id=collection_id)
        with self._write("rename the collection"):
            self._db.execute_sql("UPDATE collection SET name = ? WHERE id = ?", (clean, collection_id))

    def delete_collection(self, collection_id: int) -> None:
        """Removes the collection and its memberships; the images stay in the library."""
        with self._write("delete the collection"):
            self._db.execute_sql("DELETE FROM collection WHERE id = ?", (collection_id,))

    def set_cover(self, collection_id: int, image_id: int | None) -> None:
        self._require(collection_id)
        if image_id is not None and image_id not in self._order(collection_id):
            raise ValueError(f"image {image_id} is not in this collection, so it cannot be its cover")
        with self._write("set the collection cover"):
            self._db.execute_sql("UPDATE collection SET cover_id = ? WHERE id = ?", (image_id, collection_id))

    # -- membership and order -------------------------------------------------------------------------------

    def add_to_collection(self, collection_id: int, image_ids: Sequence[int]) -> int:
        """Append images in the given order, ignoring ones already in it or unknown; returns how many."""
        self._require(collection_id)
        with self._write("add images to the collection"):
            return self._append(collection_id, image_ids)

    def remove_from_collection(self, collection_id: int, image_ids: Sequence[int]) -> int:
        with self._write("remove images from the collection"):
            cursor = self._db.connection().executemany(
                "DELETE FROM collection_item WHERE collection_id = ? AND image_id = ?",
                [(collection_id, int(i)) for i in dict.fromkeys(image_ids)])
            return max(cursor.rowcount, 0)

    def reorder_collection(self, collection_id: int, ordered_image_ids: Sequence[int]) -> None:
        """Put the given images first, in that order; the others keep their relative order after them."""
        current = self._order(self._require(collection_id))
        members = set(current)
        first = [i for i in dict.fromkeys(int(i) for i in ordered_image_ids) if i in members]
        chosen = set(first)
        self._renumber(collection_id, first + [i for i in current if i not in chosen])

    def move_in_collection(self, collection_id: int, image_ids: Sequence[int],
                           before_image_id: int | None) -> None:
        """Move images (keeping their relative order) in front of `before_image_id`, or to the end if None."""
        current = self._order(self._require(collection_id))
        moving = set(int(i) for i in image_ids) & set(current)
        moved = [i for i in current if i in moving]
        rest = [i for i in current if i not in moving]
        anchor = None
        if before_image_id is not None and before_image_id in current:
            # Dropping onto one of the moved images: anchor on the next image that stays put.
            after = current[current.index(before_image_id):]
            anchor = next((i for i in after if i not in moving), None)
        at = rest.index(anchor) if anchor is not None else len(rest)
        self._renumber(collection_id, rest[:at] + moved + rest[at:])

    # -- helpers --------------------------------------------------------------------------------------------

    def _order(self, collection_id: int) -> list[int]:
        """All member ids, trashed ones included, so reordering never loses their place."""
        rows = self._db.execute_sql("SELECT image_id FROM collection_item WHERE collection_id = ? "
                                    "ORDER BY position, id", (collection_id,))
        return [row[0] for row in rows]

    def _renumber(self, collection_id: int, ordered: list[int]) -> None:
        with self._write("reorder the collection"):
            self._db.connection().executemany(
                "UPDATE collection_item SET position = ? WHERE collection_id = ? AND image_id = ?",
                [(pos, collection_id, image_id) for pos, image_id in enumerate(ordered)])

    def _append(self, collection_id: int, image_ids: Sequence[int]) -> int:
        """Call inside a transaction."""
        start = self._db.execute_sql("SELECT coalesce(max(position), -1) + 1 FROM collection_item "
                                     "WHERE collection_id = ?", (collection_id,)).fetchone()[0]
        added, now = 0, time.time()
        for image_id in dict.fromkeys(int(i) for i in image_ids):
            cursor = self._db.execute_sql(
                "INSERT OR IGNORE INTO collection_item (collection_id, image_id, position, added_at) "
                "SELECT ?, id, ?, ? FROM image WHERE id = ?", (collection_id, start + added, now, image_id))
            added += max(cursor.rowcount, 0)
        return added

    def _collection_id_or_create(self, name: str) -> int:
        found = collection_id_by_name(self._db, name.strip())
        return found if found is not None else self.create_collection(name)

    def _resolve_collection(self, collection: int | str) -> int:
        if isinstance(collection, str):
            found = collection_id_by_name(self._db, collection)
            if found is None:
                raise ValueError(f'there is no collection named "{collection}"')
            return found
        return self._require(collection)

    def _require(self, collection_id: int) -> int:
        if self._db.execute_sql("SELECT 1 FROM collection WHERE id = ?", (collection_id,)).fetchone() is None:
            raise ValueError(f"there is no collection with id {collection_id}")
        return collection_id

    def _valid_name(self, name: str, ignore_id: int | None = None) -> str:
        clean = " ".join(str(name).split())
        if not clean:
            raise ValueError("a collection needs a name")
        wanted = clean.casefold()
        for other_id, other in self._db.execute_sql("SELECT id, name FROM collection"):
            if other_id != ignore_id and other.casefold() == wanted:
                raise ValueError(f'a collection named "{other}" already exists')
        return clean

    def _shas(self, image_ids: Sequence[int]) -> dict[int, str]:
        result: dict[int, str] = {}
        for chunk in chunks(image_ids):
            marks = ",".join("?" * len(chunk))
            result.update(self._db.execute_sql(f"SELECT id, sha256 FROM image WHERE id IN ({marks})", chunk))
        return result

