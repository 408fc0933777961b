"""The value types views receive from and hand to the view-models.

They are plain frozen dataclasses defined next to the queries that fill them (storage.records); views import
them from here so that no view depends on storage (import-linter checks it, see pyproject.toml).
"""

from __future__ import annotations

from storage.records import CollectionRow, ImageQuery, ImageRow

__all__ = ["CollectionRow", "ImageQuery", "ImageRow"]
