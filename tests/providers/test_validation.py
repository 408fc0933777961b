"""Bad input is refused before any request leaves, with every problem named."""

from __future__ import annotations

import pytest

from providers.base import ImageRequest, InvalidRequest
from providers.catalogue import Capabilities, ProviderInfo
from providers.validation import adapt_for, check, problems

CAPS = Capabilities(model="m1", label="Model One", sizes=("1024x1024", "1536x1024"), max_count=4, seed=False,
                    negative_prompt=False, img2img=True, qualities=("low", "high"), max_prompt_chars=100)
RATIO_CAPS = Capabilities(model="r1", label="Ratio", aspect_ratios=("1:1", "3:2", "16:9"), max_count=1,
                          seed=True, negative_prompt=True)
FREE_CAPS = Capabilities(model="any", label="Any", any_size=True, min_side=64, max_side=2048, seed=True,
                         negative_prompt=True, max_count=8)
INFO = ProviderInfo(id="p", name="P", base_url="http://x", key_env=None, models=(CAPS,), default_model="m1")
RATIO_INFO = ProviderInfo(id="r", name="R", base_url="http://x", key_env=None, models=(RATIO_CAPS,), default_model="r1")


def req(**kw) -> ImageRequest:
    base = dict(prompt="a cat", provider="p", model="m1")
    base.update(kw)
    return ImageRequest(**base)


def test_valid_request_has_no_problems():
    assert problems(req(width=1024, height=1024, quality="high", count=4), CAPS) == []


@pytest.mark.parametrize("kw, fragment", [
    ({"prompt": "   "}, "prompt is empty"),
    ({"prompt": "x" * 101}, "at most 100"),
    ({"width": 512, "height": 512}, "does not support 512x512"),
    ({"count": 5}, "at most 4 images"),
    ({"count": 0}, "at least 1"),
    ({"negative_prompt": "blur"}, "negative prompt"),
    ({"seed": 5}, "fixed seed"),
    ({"quality": "ultra"}, "no quality"),
    ({"init_image": b"not an image"}, "not a PNG, JPEG or WebP"),
    ({"init_image": b""}, "is empty"),
])
def test_each_problem_is_named(kw, fragment):
    found = problems(req(**kw), CAPS)
    assert any(fragment in p for p in found), found


def test_check_raises_all_problems_and_unknown_model():
    with pytest.raises(InvalidRequest) as err:
        check(req(prompt="", seed=3), INFO)
    assert "prompt is empty" in err.value.message and "seed" in err.value.message
    with pytest.raises(InvalidRequest, match="no model"):
        check(req(model="nope"), INFO)


def test_free_size_limits_and_multiples():
    assert problems(req(width=4096, height=512), FREE_CAPS)
    assert problems(req(width=513, height=512), FREE_CAPS)
    assert problems(req(width=768, height=512), FREE_CAPS) == []


def test_adapt_for_maps_size_to_ratio_and_refuses_what_cannot_carry_over():
    adapted = adapt_for(req(width=1536, height=1024), RATIO_INFO)
    assert adapted is not None and adapted.aspect_ratio == "3:2" and adapted.width is None
    assert adapted.provider == "r" and adapted.model == "r1"
    # image-to-image cannot move to a model without it
    assert adapt_for(req(init_image=b"\x89PNG\r\n\x1a\n..."), RATIO_INFO) is None
    # a negative prompt moves only to a model that takes one
    assert adapt_for(req(negative_prompt="blur"), INFO) is None


def test_local_backend_accepts_any_checkpoint_name():
    local = ProviderInfo(id="a1111", name="A1111", base_url="http://127.0.0.1:7860", key_env=None, local=True,
                         models=(Capabilities(model="default", label="Loaded checkpoint", any_size=True),))
    caps = check(ImageRequest(prompt="x", provider="a1111", model="juggernautXL_v9.safetensors"), local)
    assert caps.model == "default"
    with pytest.raises(InvalidRequest, match="no model"):
        check(ImageRequest(prompt="x", provider="p", model="juggernautXL"), INFO)


def test_style_and_quality_are_refused_on_models_without_them():
    plain = Capabilities(model="p", label="Plain", any_size=True)
    assert any("takes no style" in p for p in problems(req(model="p", style="nope"), plain))
    assert any("no quality setting" in p for p in problems(req(model="p", quality="high"), plain))
