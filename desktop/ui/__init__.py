"""The library window: gallery, detail, collections, import, and the generation panel placeholder."""
