"""The fast first page of a search: same ids as the head of the full list, without listing every hit."""

from __future__ import annotations

from storage.records import ImageQuery
from tests.storage.conftest import make_record


def test_head_matches_the_full_list_and_respects_filters(library):
    for n in range(300):
        prompt = f"a neon city at night {n}" if n % 3 else f"a quiet forest {n}"
        library.add_image(make_record(n, prompt=prompt))
    library.set_favorite(library.ids(ImageQuery(search="forest"))[:5], True)
    for query in (ImageQuery(search="neon city"), ImageQuery(search="neon", sort="oldest"),
                  ImageQuery(search="forest", favorites=True), ImageQuery(search='"unbalanced (:*')):
        full = library.ids(query)
        head = library.search_head(query, 50)
        assert head == full[:50], query


def test_head_skips_trash_and_declines_sorts_it_cannot_serve(library):
    ids = [library.add_image(make_record(n, prompt=f"lighthouse {n}"))[0] for n in range(10)]
    library.trash(ids[-3:])
    assert library.search_head(ImageQuery(search="lighthouse"), 100) == list(reversed(ids[:-3]))
    assert library.search_head(ImageQuery(search="lighthouse", sort="rating"), 100) is None
    assert library.search_head(ImageQuery(), 100) is None
