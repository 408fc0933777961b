"""A1111 infotext writer/reader and the ComfyUI graph reader."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.comfyui import parse_comfyui_prompt
from storage.infotext import format_a1111_parameters, parse_a1111_parameters


def test_format_matches_a1111_layout() -> None:
    text = format_a1111_parameters(
        "a cat\non a mat", "ugly, blurry",
        {"Steps": 20, "Sampler": "Euler a", "CFG scale": 7.0, "Seed": 123, "Size": "512x512", "Model": "x",
         "Denoising strength": None, "Lora hashes": "detail: 1a2b", "Tiling": "Tiling", "Provider": "openai",
         "Prompt note": 'say "hi", ok'})
    assert text == ("a cat\non a mat\nNegative prompt: ugly, blurry\n"
                    'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, Model: x, '
                    'Lora hashes: "detail: 1a2b", Tiling, Provider: openai, Prompt note: "say \\"hi\\", ok"')


def test_format_without_negative_or_fields() -> None:
    assert format_a1111_parameters("just a prompt  ", "", {}) == "just a prompt"
    assert format_a1111_parameters("p", "", {"CFG scale": 4.5, "Steps": 3, "Seed": 9}) == \
        "p\nCFG scale: 4.5, Steps: 3, Seed: 9"
    # A raw value that looks quoted would be unquoted by readers, so it is quoted itself.
    assert format_a1111_parameters("p", "", {"Sampler": '"x"'}) == 'p\nSampler: "\\"x\\""'
    assert parse_a1111_parameters('p\nSampler: "\\"x\\"", Steps: 1, Seed: 2')["Sampler"] == '"x"'


def test_parse_full_sample() -> None:
    parsed = parse_a1111_parameters(
        "a photo of a cat, (fluffy:1.3)\nsecond line\nNegative prompt: bad hands,\nworse hands\n"
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x768, Model: x, '
        'Template: "a {red|blue} cat, fluffy", Negative Template: "bad: hands", Hires upscale: 2, '
        'Lora hashes: "a: 1, b: 2", ADetailer prompt: "face \\"smile\\""')
    assert parsed["prompt"] == "a photo of a cat, (fluffy:1.3)\nsecond line"
    assert parsed["negative_prompt"] == "bad hands,\nworse hands"
    assert parsed["Steps"] == "20" and parsed["Seed"] == "123" and parsed["Sampler"] == "Euler a"
    assert (parsed["width"], parsed["height"]) == (512, 768)
    assert parsed["Template"] == "a {red|blue} cat, fluffy"
    assert parsed["Negative Template"] == "bad: hands"
    assert parsed["Lora hashes"] == "a: 1, b: 2"
    assert parsed["ADetailer prompt"] == 'face "smile"'


def test_parse_missing_negative_and_crlf() -> None:
    parsed = parse_a1111_parameters("line one\r\nline two\r\nSteps: 5, Seed: 1, Size: 64x64\r\n")
    assert parsed["prompt"] == "line one\nline two"
    assert parsed["negative_prompt"] == ""
    assert parsed["Size"] == "64x64"


def test_parse_prompt_only_and_empty() -> None:
    assert parse_a1111_parameters("a: b, c: d") == {"prompt": "a: b, c: d", "negative_prompt": ""}
    assert parse_a1111_parameters("") == {"prompt": "", "negative_prompt": ""}
    assert parse_a1111_parameters("  \n ") == {"prompt": "", "negative_prompt": ""}


def test_parse_negative_only() -> None:
    parsed = parse_a1111_parameters("Negative prompt: nsfw\nSteps: 5, Seed: 1, Size: 64x64")
    assert (parsed["prompt"], parsed["negative_prompt"]) == ("", "nsfw")


def test_parse_tolerates_broken_quotes() -> None:
    parsed = parse_a1111_parameters('p\nSteps: 5, Seed: 1, Note: "unterminated, Size: 64x64')
    assert parsed["prompt"] == "p"
    assert parsed["Steps"] == "5"


_chars = st.characters(blacklist_categories=("Cs", "Cc"))
_line = st.text(_chars, min_size=1, max_size=40).map(str.strip).filter(
    lambda s: bool(s) and not s.startswith("Negative prompt:"))


@settings(max_examples=150, deadline=None)
@given(prompt=st.lists(_line, min_size=1, max_size=4).map("\n".join),
       negative=st.one_of(st.just(""), st.lists(_line, min_size=1, max_size=3).map("\n".join)),
       seed=st.integers(0, 2**64), steps=st.integers(1, 150), sampler=_line)
def test_infotext_round_trip(prompt: str, negative: str, seed: int, steps: int, sampler: str) -> None:
    text = format_a1111_parameters(prompt, negative, {"Steps": steps, "Sampler": sampler, "Seed": seed,
                                                      "Size": "512x512"})
    parsed = parse_a1111_parameters(text)
    assert parsed["prompt"] == prompt
    assert parsed["negative_prompt"] == negative
    assert parsed["Seed"] == str(seed) and parsed["Steps"] == str(steps)
    assert parsed["Sampler"] == sampler.strip()


# ---- ComfyUI graphs -----------------------------------------------------------------------------------

def test_comfy_text_from_primitive_and_sdxl_encoder() -> None:
    graph = {
        "10": {"class_type": "KSamplerAdvanced", "inputs": {
            "noise_seed": ["20", 0], "steps": 30, "cfg": 5.5, "sampler_name": "dpmpp_2m",
            "positive": ["11", 0], "negative": ["12", 0], "model": ["15", 0], "latent_image": ["16", 0]}},
        "11": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": ["21", 0], "text_l": ["21", 0]}},
        "12": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["13", 0],
                                                               "conditioning_2": ["14", 0]}},
        "13": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry"}},
        "14": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres"}},
        "15": {"class_type": "LoraLoader", "inputs": {"model": ["17", 0], "lora_name": "x.safetensors"}},
        "16": {"class_type": "LatentUpscale", "inputs": {"samples": ["18", 0], "width": 0, "height": 0}},
        "17": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
        "18": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 768}},
        "20": {"class_type": "PrimitiveInt", "inputs": {"value": 42}},
        "21": {"class_type": "PrimitiveString", "inputs": {"value": "a lighthouse"}},
    }
    assert parse_comfyui_prompt(graph) == {
        "prompt": "a lighthouse", "negative_prompt": "blurry", "seed": 42, "steps": 30, "cfg_scale": 5.5,
        "sampler": "dpmpp_2m", "model": "sdxl.safetensors", "width": 1024, "height": 768}


def test_comfy_flux_sampler_custom_advanced() -> None:
    graph = {
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
            "latent_image": ["27", 0]}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["26", 0]}},
        "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a flux prompt"}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 777}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler",
               "inputs": {"scheduler": "simple", "steps": 4, "model": ["12", 0]}},
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-schnell.safetensors"}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024}},
    }
    assert parse_comfyui_prompt(graph) == {
        "prompt": "a flux prompt", "seed": 777, "steps": 4, "sampler": "euler", "scheduler": "simple",
        "model": "flux1-schnell.safetensors", "width": 1024, "height": 1024}


@pytest.mark.parametrize("graph", [
    None, [], "x", 5, {}, {"1": None}, {"1": {"class_type": 3}},
    {"1": {"class_type": "KSampler", "inputs": []}},
    {"1": {"class_type": "KSampler", "inputs": {"positive": ["1", 0], "negative": ["404", 0], "seed": "x",
                                                "latent_image": ["1", 0], "model": ["1", 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"positive": [None, 0], "seed": True, "steps": [1, 2, 3]}}},
])
def test_comfy_odd_graphs_never_crash(graph: object) -> None:
    result = parse_comfyui_prompt(graph)
    assert isinstance(result, dict)
    assert "prompt" not in result


def test_comfy_cycle_of_pass_through_nodes_terminates() -> None:
    graph = {str(i): {"class_type": "ConditioningCombine",
                      "inputs": {"conditioning_1": [str((i + 1) % 200), 0],
                                 "conditioning_2": [str((i + 7) % 200), 0]}}
             for i in range(200)}
    graph["900"] = {"class_type": "KSampler", "inputs": {"positive": ["0", 0]}}
    assert parse_comfyui_prompt(graph) == {}


def test_comfy_single_encoder_without_sampler() -> None:
    assert parse_comfyui_prompt({"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "solo"}}}) == \
        {"prompt": "solo"}


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=4), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(graph=st.dictionaries(st.sampled_from(["1", "2", "3", "x"]), st.fixed_dictionaries(
    {"class_type": st.sampled_from(["KSampler", "SamplerCustomAdvanced", "CLIPTextEncode", "Other"]),
     "inputs": st.dictionaries(st.sampled_from(["positive", "negative", "text", "seed", "guider", "model",
                                                "latent_image", "width", "height", "conditioning", "value"]),
                               st.one_of(_json, st.tuples(st.sampled_from(["1", "2", "3", "9"]),
                                                          st.integers(0, 2)).map(list)))})))
def test_comfy_random_graphs_never_crash(graph: dict[str, object]) -> None:
    json.dumps(parse_comfyui_prompt(graph), default=str)
