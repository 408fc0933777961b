"""Settings rows: JSON values, per-provider settings, and no secrets anywhere in the schema."""

from __future__ import annotations

import pytest

from storage.library import Library
from storage.models import ALL_MODELS
from storage.prefs import ProviderSettings


def test_app_settings_round_trip(library: Library) -> None:
    assert library.get_setting("theme") is None
    assert library.get_setting("theme", "dark") == "dark"
    library.set_setting("theme", "light")
    library.set_setting("grid", {"size": 128, "labels": [True, None]})
    library.set_setting("theme", "system")
    assert library.get_setting("theme") == "system"
    assert library.get_setting("grid") == {"size": 128, "labels": [True, None]}
    with pytest.raises(TypeError):
        library.set_setting("bad", object())
    library.db.execute_sql("UPDATE app_setting SET value_json = '{broken' WHERE key = 'theme'")
    assert library.get_setting("theme", "fallback") == "fallback"


def test_provider_settings_round_trip(library: Library) -> None:
    assert library.provider_setting("kie") is None
    library.save_provider_setting(ProviderSettings("kie", base_url="http://127.0.0.1:9",
                                                   default_model="flux"))
    library.save_provider_setting(ProviderSettings("kie", base_url="https://api.kie.ai", enabled=False,
                                                   settings={"poll_s": 2}))
    assert library.provider_setting("kie") == ProviderSettings("kie", "https://api.kie.ai", False, "",
                                                               {"poll_s": 2})


def test_no_secret_columns() -> None:
    for model in ALL_MODELS:
        for name in model._meta.fields:
            if name == "key":  # AppSetting's key column names a setting, not a credential
                continue
            assert not any(word in name for word in ("key", "secret", "token", "password")), name
