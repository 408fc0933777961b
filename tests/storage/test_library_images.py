"""Library image API: adding, duplicates, every filter and sort, flags, trash."""

from __future__ import annotations

import pytest

from storage.layout import thumb_path_for
from storage.library import Library
from storage.records import ImageQuery
from tests.storage.conftest import add_with_file, make_record


def test_add_image_returns_row_with_absolute_paths_and_meta(library: Library) -> None:
    record = make_record(1, seed=2**40, steps=30, cfg_scale=7.5, sampler="euler", tags="fox forest",
                         cost_usd=0.04, request_id="req-1", job_id=3, fallback_from="kie",
                         meta={"prompt": "fox", "size": "1024x1024"})
    image_id, created = library.add_image(record, meta={"quality": "high"})
    assert created
    row = library.get(image_id)
    assert row is not None
    assert row.path == str(library.paths.data / record.path)
    assert row.thumb_path == str(thumb_path_for(library.paths, record.sha256))
    assert (row.seed, row.steps, row.cfg_scale, row.sampler) == (2**40, 30, 7.5, "euler")
    assert (row.cost_usd, row.request_id, row.job_id, row.fallback_from) == (0.04, "req-1", 3, "kie")
    flags = (row.favorite, row.rating, row.rejected, row.trashed, row.collections)
    assert flags == (False, 0, False, False, ())
    assert library.image_meta(image_id) == {"prompt": "fox", "size": "1024x1024", "quality": "high"}
    assert row.to_json()["collections"] == []


def test_created_at_defaults_to_now(library: Library) -> None:
    import time

    before = time.time()
    image_id, _ = library.add_image(make_record(1, created_at=None))
    row = library.get(image_id)
    assert row is not None and before <= row.created_at <= time.time()


def test_duplicate_returns_existing_adds_to_collection_and_restores(library: Library) -> None:
    first, created = library.add_image(make_record(1))
    assert created
    library.trash([first])
    again, created = library.add_image(make_record(1, prompt="other"), collection="Favs")
    assert (again, created) == (first, False)
    row = library.get(first)
    assert row is not None and not row.trashed and row.prompt == "image number 1"
    assert row.collections == ("Favs",)
    assert library.count(ImageQuery()) == 1


def test_collection_created_on_demand_case_insensitively(library: Library) -> None:
    a, _ = library.add_image(make_record(1), collection="Portraits")
    b, _ = library.add_image(make_record(2), collection="portraits")
    assert [c.name for c in library.collections()] == ["Portraits"]
    assert library.collection_image_ids(library.collections()[0].id) == [a, b]


@pytest.fixture
def populated(library: Library) -> dict[str, int]:
    ids = {
        "old_fav": library.add_image(make_record(1, created_at=100.0, provider="kie"))[0],
        "mid": library.add_image(make_record(2, created_at=200.0, provider="openai"))[0],
        "new_rated": library.add_image(make_record(3, created_at=300.0, provider="openai"))[0],
        "rejected": library.add_image(make_record(4, created_at=250.0, provider="bfl"))[0],
        "trashed": library.add_image(make_record(5, created_at=400.0, provider="fal"))[0],
        "imported_late": library.add_image(make_record(6, created_at=50.0, provider="kie"))[0],
    }
    library.set_favorite([ids["old_fav"]], True)
    library.set_rating([ids["new_rated"]], 5)
    library.set_rating([ids["mid"]], 3)
    library.set_rejected([ids["rejected"]], True)
    library.trash([ids["trashed"]])
    return ids


def names(populated: dict[str, int], ids: list[int]) -> list[str]:
    by_id = {v: k for k, v in populated.items()}
    return [by_id[i] for i in ids]


def test_sorts(library: Library, populated: dict[str, int]) -> None:
    assert names(populated, library.ids(ImageQuery())) == [
        "new_rated", "rejected", "mid", "old_fav", "imported_late"]  # by created_at, not insertion order
    assert names(populated, library.ids(ImageQuery(sort="oldest"))) == [
        "imported_late", "old_fav", "mid", "rejected", "new_rated"]
    assert names(populated, library.ids(ImageQuery(sort="rating"))) == [
        "new_rated", "mid", "rejected", "old_fav", "imported_late"]
    with pytest.raises(ValueError, match="unknown sort"):
        library.ids(ImageQuery(sort="random"))


def test_filters(library: Library, populated: dict[str, int]) -> None:
    def q(**kw: object) -> list[str]:
        return names(populated, library.ids(ImageQuery(**kw)))  # type: ignore[arg-type]

    assert q(favorites=True) == ["old_fav"]
    assert q(min_rating=3) == ["new_rated", "mid"]
    assert q(min_rating=4, sort="oldest") == ["new_rated"]
    assert q(provider="kie") == ["old_fav", "imported_late"]
    assert q(provider="nobody") == []
    assert q(include_rejected=False) == ["new_rated", "mid", "old_fav", "imported_late"]
    assert q(trashed=True) == ["trashed"]
    assert q(date_from=100.0, date_to=250.0) == ["rejected", "mid", "old_fav"]
    assert q(date_from=260.0) == ["new_rated"]
    assert q(favorites=True, provider="openai") == []
    assert q(collection="missing") == []
    assert library.count(ImageQuery(provider="openai")) == 2
    assert library.count(ImageQuery(trashed=True)) == 1
    assert library.count(ImageQuery(collection="missing")) == 0
    assert library.providers() == ["bfl", "fal", "kie", "openai"]


def test_collection_filter_and_collection_sort(library: Library, populated: dict[str, int]) -> None:
    cid = library.create_collection("Picks")
    library.add_to_collection(cid, [populated["mid"], populated["old_fav"], populated["new_rated"],
                                    populated["trashed"]])
    assert names(populated, library.ids(ImageQuery(collection="picks"))) == ["new_rated", "mid", "old_fav"]
    assert names(populated, library.ids(ImageQuery(collection="Picks", sort="collection"))) == [
        "mid", "old_fav", "new_rated"]
    favorites = ImageQuery(collection="Picks", sort="collection", favorites=True)
    assert names(populated, library.ids(favorites)) == ["old_fav"]
    # "collection" order without a collection falls back to newest first
    assert names(populated, library.ids(ImageQuery(sort="collection")))[0] == "new_rated"


def test_list_and_rows(library: Library, populated: dict[str, int]) -> None:
    rows = library.list(ImageQuery(provider="openai"))
    assert [r.id for r in rows] == [populated["new_rated"], populated["mid"]]
    newest_two = [populated["new_rated"], populated["rejected"]]
    assert [r.id for r in library.list(ImageQuery(), limit=2)] == newest_two
    fetched = library.rows([populated["mid"], 999_999, populated["mid"]])
    assert list(fetched) == [populated["mid"]]
    assert library.get(999_999) is None


def test_rows_fetches_in_batches(library: Library) -> None:
    ids = [library.add_image(make_record(n))[0] for n in range(1203)]
    assert set(library.rows(ids)) == set(ids)
    assert len(library.ids(ImageQuery())) == 1203


def test_flags_and_rating_validation(library: Library) -> None:
    a, _ = library.add_image(make_record(1))
    b, _ = library.add_image(make_record(2))
    library.set_favorite([a, b], True)
    library.set_favorite([b], False)
    library.set_rating([a, b], 4)
    library.set_rejected([b], True)
    ra, rb = library.get(a), library.get(b)
    assert ra is not None and rb is not None
    assert (ra.favorite, ra.rating, ra.rejected) == (True, 4, False)
    assert (rb.favorite, rb.rating, rb.rejected) == (False, 4, True)
    for bad in (-1, 6, 2.5):
        with pytest.raises(ValueError, match="rating"):
            library.set_rating([a], bad)  # type: ignore[arg-type]
    library.set_rating([a], 0)
    assert library.get(a).rating == 0  # type: ignore[union-attr]


def test_trash_restore_and_empty_trash_removes_files(library: Library) -> None:
    keep = add_with_file(library, 1)
    gone = add_with_file(library, 2)
    cid = library.create_collection("C")
    library.add_to_collection(cid, [keep, gone])
    library.set_cover(cid, gone)
    gone_row = library.get(gone)
    assert gone_row is not None
    extra_thumb = thumb_path_for(library.paths, gone_row.sha256, 512)
    extra_thumb.write_bytes(b"big thumb")

    library.trash([keep, gone])
    assert library.ids(ImageQuery()) == [] and len(library.ids(ImageQuery(trashed=True))) == 2
    library.restore([keep])
    assert library.ids(ImageQuery()) == [keep]
    assert library.collections()[0].cover_image_id == keep  # a trashed cover falls back to the first item

    assert library.empty_trash() == 1
    assert library.get(gone) is None and library.get(keep) is not None
    assert not (library.paths.data / gone_row.path).exists()
    assert not thumb_path_for(library.paths, gone_row.sha256).exists() and not extra_thumb.exists()
    assert (library.paths.data / library.get(keep).path).exists()  # type: ignore[union-attr]
    assert library.collection_image_ids(cid) == [keep]
    assert library.db.execute_sql("SELECT cover_id FROM collection").fetchone() == (None,)
    assert library.empty_trash() == 0


def test_set_tags_is_searchable(library: Library) -> None:
    image_id, _ = library.add_image(make_record(1))
    library.set_tags(image_id, "  sunset   beach ")
    assert library.get(image_id).tags == "sunset beach"  # type: ignore[union-attr]
    assert library.ids(ImageQuery(search="beach ")) == [image_id]
    library.set_tags(image_id, "")
    assert library.ids(ImageQuery(search="beach ")) == []
