"""Collections: CRUD, name rules, membership, ordering, covers."""

from __future__ import annotations

import pytest

from storage.layout import thumb_path_for
from storage.library import Library
from storage.records import ImageQuery
from tests.storage.conftest import make_record


@pytest.fixture
def images(library: Library) -> list[int]:
    return [library.add_image(make_record(n))[0] for n in range(6)]


def test_create_rename_delete(library: Library, images: list[int]) -> None:
    a = library.create_collection("  Summer   2024 ")
    b = library.create_collection("Été")
    listed = [(c.id, c.name, c.count) for c in library.collections()]
    assert listed == [(a, "Summer 2024", 0), (b, "Été", 0)]
    library.rename_collection(a, "Summer")
    library.rename_collection(a, "SUMMER")  # changing only the case of its own name is fine
    assert library.collection_by_name("summer").id == a  # type: ignore[union-attr]
    assert library.collection_by_name("ÉTÉ").id == b  # type: ignore[union-attr]  (casefold, beyond ASCII)
    assert library.collection_by_name("nope") is None
    library.add_to_collection(a, images[:2])
    library.delete_collection(a)
    assert [c.name for c in library.collections()] == ["Été"]
    assert library.count(ImageQuery()) == len(images)  # images stay in the library
    assert library.get(images[0]).collections == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["", "   ", "\t\n"])
def test_empty_name_is_rejected(library: Library, bad: str) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        library.create_collection(bad)


def test_duplicate_names_ignore_case(library: Library) -> None:
    a = library.create_collection("Portraits")
    with pytest.raises(ValueError, match='"Portraits" already exists'):
        library.create_collection("PORTRAITS")
    b = library.create_collection("Landscapes")
    with pytest.raises(ValueError, match="already exists"):
        library.rename_collection(b, "portraits")
    with pytest.raises(ValueError, match="no collection"):
        library.rename_collection(999, "x")
    assert {c.id for c in library.collections()} == {a, b}


def test_membership_and_counts(library: Library, images: list[int]) -> None:
    cid = library.create_collection("C")
    assert library.add_to_collection(cid, [images[2], images[0], images[2], 424242]) == 2
    assert library.add_to_collection(cid, [images[0], images[1]]) == 1  # duplicates ignored, appended
    assert library.collection_image_ids(cid) == [images[2], images[0], images[1]]
    assert library.remove_from_collection(cid, [images[0], images[5]]) == 1
    assert library.collection_image_ids(cid) == [images[2], images[1]]
    library.trash([images[1]])
    assert library.collections()[0].count == 1 and library.collection_image_ids(cid) == [images[2]]
    assert library.get(images[2]).collections == ("C",)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no collection"):
        library.add_to_collection(999, images)


def test_reorder_and_move(library: Library, images: list[int]) -> None:
    cid = library.create_collection("C")
    library.add_to_collection(cid, images)
    i0, i1, i2, i3, i4, i5 = images
    library.reorder_collection(cid, [i5, i3, 999])
    assert library.collection_image_ids(cid) == [i5, i3, i0, i1, i2, i4]
    library.move_in_collection(cid, [i4, i0], before_image_id=i5)  # keeps their relative order
    assert library.collection_image_ids(cid) == [i0, i4, i5, i3, i1, i2]
    library.move_in_collection(cid, [i0], before_image_id=None)
    assert library.collection_image_ids(cid) == [i4, i5, i3, i1, i2, i0]
    library.move_in_collection(cid, [i3, i1], before_image_id=i3)  # dropped onto itself: next staying item
    assert library.collection_image_ids(cid) == [i4, i5, i3, i1, i2, i0]
    library.move_in_collection(cid, [i2], before_image_id=i4)
    assert library.collection_image_ids(cid) == [i2, i4, i5, i3, i1, i0]
    library.trash([i5])  # trashed items keep their place when the order is rewritten
    library.move_in_collection(cid, [i0], before_image_id=i4)
    library.restore([i5])
    assert library.collection_image_ids(cid) == [i2, i0, i4, i5, i3, i1]
    assert library.ids(ImageQuery(collection="C", sort="collection")) == [i2, i0, i4, i5, i3, i1]


def test_cover_explicit_then_first_item(library: Library, images: list[int]) -> None:
    cid = library.create_collection("C")
    empty = library.create_collection("Empty")
    library.add_to_collection(cid, [images[3], images[1]])
    rows = {c.id: c for c in library.collections()}
    assert rows[empty].cover_image_id is None and rows[empty].cover_thumb_path == ""
    assert rows[cid].cover_image_id == images[3]
    library.set_cover(cid, images[1])
    cover = {c.id: c for c in library.collections()}[cid]
    sha = library.get(images[1]).sha256  # type: ignore[union-attr]
    assert cover.cover_image_id == images[1]
    assert cover.cover_thumb_path == str(thumb_path_for(library.paths, sha))
    with pytest.raises(ValueError, match="not in this collection"):
        library.set_cover(cid, images[0])
    library.remove_from_collection(cid, [images[1]])
    assert {c.id: c for c in library.collections()}[cid].cover_image_id == images[3]
    library.set_cover(cid, None)
    assert library.collections()[0].to_json()["cover_image_id"] == images[3]
