"""The CLI contract: import / list / collections / export, and generate from every provider's loopback fake."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from desktop.app import main
from tests.fakes.servers.a1111_fake import A1111Fake
from tests.fakes.servers.base import Reply
from tests.fakes.servers.comfyui_fake import ComfyUIFake
from tests.fakes.servers.kie_fake import KieFake
from tests.fakes.servers.openai_fake import OpenAIFake
from tests.fakes.servers.pollinations_fake import PollinationsFake
from tests.fakes.servers.replicate_fake import ReplicateFake
from tests.fakes.servers.stability_fake import StabilityFake

LIST_FIELDS = {"id", "path", "provider", "model", "prompt", "negative_prompt", "seed", "width", "height",
               "created_at", "favorite", "rating", "collections"}
GENERATE_FIELDS = {"id", "path", "provider", "model", "prompt", "seed", "width", "height", "cost_usd"}


def run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    objs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, objs, err


def a1111_png(path: Path, prompt: str, seed: int) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: lowres, blurry\n"
                                f"Steps: 30, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: {seed}, Size: 96x64, "
                                f"Model: juggernautXL")
    Image.new("RGB", (96, 64), (seed % 255, 90, 160)).save(path, pnginfo=info)


def comfy_png(path: Path) -> None:
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 424242, "steps": 25, "cfg": 7.0,
                                                   "sampler_name": "euler", "positive": ["6", 0],
                                                   "negative": ["7", 0], "latent_image": ["5", 0],
                                                   "model": ["4", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 80, "height": 80, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a comfy cabin in snowy woods", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["4", 1]}},
    }
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (80, 80), (20, 120, 60)).save(path, pnginfo=info)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "incoming"
    (src / "nested").mkdir(parents=True)
    a1111_png(src / "fox.png", "a red fox in autumn leaves", 1234)
    a1111_png(src / "nested" / "owl.png", "a snowy owl at night", 5678)
    comfy_png(src / "cabin.png")
    (src / "zero.png").write_bytes(b"")
    (src / "notes.png").write_text("definitely not an image")
    data = (src / "fox.png").read_bytes()
    (src / "truncated.png").write_bytes(data[: len(data) // 2])
    return src


def test_import_list_search_collections_export(capsys, tmp_path, folder):
    data = str(tmp_path / "lib")
    code, objs, err = run(capsys, "--data-dir", data, "import", str(folder), "--collection", "Nature", "--json")
    assert code == 0
    assert len(objs) == 3 and {o["status"] for o in objs} == {"imported"}
    for bad, reason in (("zero.png", "empty"), ("notes.png", "not an image"), ("truncated.png", "")):
        assert f"{bad}: {reason}" in err
    # the same picture twice in one import: the second copy is reported as a duplicate
    copy_dir = tmp_path / "copies"
    copy_dir.mkdir()
    (copy_dir / "a.png").write_bytes((folder / "fox.png").read_bytes())
    (copy_dir / "b.png").write_bytes((folder / "fox.png").read_bytes())
    code, objs, _ = run(capsys, "--data-dir", str(tmp_path / "lib2"), "import", str(copy_dir), "--json")
    assert code == 0 and [o["status"] for o in objs] == ["imported", "duplicate"]
    assert objs[0]["id"] == objs[1]["id"]
    # importing again de-duplicates by content
    code, objs, _ = run(capsys, "--data-dir", data, "import", str(folder / "fox.png"), "--json")
    assert code == 0 and objs[0]["status"] == "duplicate"

    code, rows, _ = run(capsys, "--data-dir", data, "list", "--json")
    assert code == 0 and len(rows) == 3
    assert all(LIST_FIELDS <= set(r) for r in rows)
    fox = next(r for r in rows if "fox" in r["prompt"])
    assert fox["seed"] == 1234 and fox["negative_prompt"] == "lowres, blurry" and fox["model"] == "juggernautXL"
    assert fox["width"] == 96 and fox["collections"] == ["Nature"]
    cabin = next(r for r in rows if "cabin" in r["prompt"])
    assert cabin["seed"] == 424242 and cabin["negative_prompt"] == "ugly"

    _, found, _ = run(capsys, "--data-dir", data, "list", "--json", "--search", "owl")
    assert [r["prompt"] for r in found] == ["a snowy owl at night"]
    _, none, _ = run(capsys, "--data-dir", data, "list", "--json", "--search", '"unbalanced (quote:*')
    assert none == []
    _, favs, _ = run(capsys, "--data-dir", data, "list", "--json", "--favorites")
    assert favs == []

    _, cols, _ = run(capsys, "--data-dir", data, "collections", "--json")
    assert cols[0]["name"] == "Nature" and cols[0]["count"] == 3

    out_zip = tmp_path / "nature.zip"
    code, _, _ = run(capsys, "--data-dir", data, "export", "Nature", str(out_zip))
    assert code == 0
    with zipfile.ZipFile(out_zip) as zf:
        names = zf.namelist()
        assert len(names) == 3 and all("/" not in n and ".." not in n for n in names)
        fox_member = next(n for n in names if "fox" in n)
        with zf.open(fox_member) as fh:
            assert "Seed: 1234" in Image.open(fh).text["parameters"]  # metadata kept
    out_dir = tmp_path / "nature-folder"
    assert run(capsys, "--data-dir", data, "export", "Nature", str(out_dir))[0] == 0
    assert len(list(out_dir.iterdir())) == 3


def test_errors_are_one_clear_line_and_nonzero(capsys, tmp_path):
    data = str(tmp_path / "lib")
    code, _, err = run(capsys, "--data-dir", data, "export", "Nope", str(tmp_path / "x"))
    assert code != 0 and err.strip().count("\n") == 0 and "no collection named 'Nope'" in err
    code, _, err = run(capsys, "--data-dir", data, "import", str(tmp_path / "missing.png"))
    assert code != 0 and "no such file" in err and "Traceback" not in err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, _, err = run(capsys, "--data-dir", data, "import", str(bad))
    assert code != 0 and "bad.png" in err
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    code, _, err = run(capsys, "--data-dir", str(blocker / "lib"), "list", "--json")
    assert code != 0 and "Traceback" not in err and err.startswith("images-studio:")


# ------------------------------------------------------------------------------------------ generate

def _openai(mp):
    fake = OpenAIFake().start()
    mp.setenv("IMAGES_STUDIO_OPENAI_BASE_URL", fake.base_url)
    mp.setenv("OPENAI_API_KEY", fake.key)
    return fake, ["--size", "1024x1024"], fake.key


def _stability(mp):
    fake = StabilityFake().start()
    mp.setenv("IMAGES_STUDIO_STABILITY_BASE_URL", fake.url)
    mp.setenv("STABILITY_API_KEY", fake.key)
    return fake, ["--model", "stable-image-core", "--aspect-ratio", "16:9", "--seed", "7"], fake.key


def _replicate(mp):
    fake = ReplicateFake().start()
    mp.setenv("IMAGES_STUDIO_REPLICATE_BASE_URL", fake.base_url)
    mp.setenv("REPLICATE_API_TOKEN", fake.key)
    return fake, ["--model", "black-forest-labs/flux-schnell", "--count", "2"], fake.key


def _kie(mp):
    fake = KieFake().start()
    mp.setenv("IMAGES_STUDIO_KIE_BASE_URL", fake.url)
    mp.setenv("KIE_API_KEY", fake.key)
    return fake, ["--model", "flux-kontext-pro"], fake.key


def _pollinations(mp):
    fake = PollinationsFake().start()
    mp.setenv("IMAGES_STUDIO_POLLINATIONS_BASE_URL", fake.url)
    return fake, ["--seed", "11"], None


def _a1111(mp):
    fake = A1111Fake().start()
    mp.setenv("IMAGES_STUDIO_A1111_BASE_URL", fake.url)
    return fake, ["--size", "512x512", "--negative-prompt", "blurry", "--seed", "99"], None


def _comfyui(mp):
    fake = ComfyUIFake().start()
    mp.setenv("IMAGES_STUDIO_COMFYUI_BASE_URL", fake.url)
    return fake, ["--size", "512x512", "--seed", "5"], None


PROVIDERS = {"openai": _openai, "stability": _stability, "replicate": _replicate, "kie": _kie,
             "pollinations": _pollinations, "a1111": _a1111, "comfyui": _comfyui}


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_generate_saves_into_library_from_each_fake(capsys, monkeypatch, tmp_path, provider):
    monkeypatch.setenv("IMAGES_STUDIO_POLL_INTERVAL", "0.01")
    fake, extra, key = PROVIDERS[provider](monkeypatch)
    data = str(tmp_path / "lib")
    try:
        code, objs, err = run(capsys, "--data-dir", data, "generate", "a quiet harbour at dawn",
                              "--provider", provider, "--collection", "Harbour", "--json", *extra)
    finally:
        fake.stop()
    assert code == 0, err
    expected = 2 if "--count" in extra else 1
    assert len(objs) == expected
    for obj in objs:
        assert GENERATE_FIELDS <= set(obj)
        assert obj["provider"] == provider and obj["prompt"].startswith("a quiet harbour at dawn")
        assert Path(obj["path"]).is_file() and obj["width"] > 0
        if provider in ("a1111", "comfyui"):  # the checkpoint actually used, not "default"
            assert obj["model"] in ("v1-5-pruned-emaonly", "sd_xl_base_1.0"), obj["model"]
    _, rows, _ = run(capsys, "--data-dir", data, "list", "--json", "--collection", "Harbour")
    assert sorted(r["id"] for r in rows) == sorted(o["id"] for o in objs)
    if key:
        assert key not in err
        for f in Path(data).rglob("*"):
            if f.is_file():
                assert key.encode() not in f.read_bytes(), f


def test_generate_failure_names_provider_and_reason(capsys, monkeypatch, tmp_path):
    fake, _, _ = _openai(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-000000000000000000")
    try:
        code, objs, err = run(capsys, "--data-dir", str(tmp_path / "lib"), "generate", "a cat",
                              "--provider", "openai", "--json")
    finally:
        fake.stop()
    assert code != 0 and objs == []
    last = err.strip().splitlines()[-1]
    assert last.startswith("images-studio: openai:") and "key" in last
    assert "sk-wrong-key-000000000000000000" not in err and "Traceback" not in err


def test_generate_refuses_bad_input_before_any_request(capsys, monkeypatch, tmp_path):
    fake, _, _ = _openai(monkeypatch)
    data = str(tmp_path / "lib")
    try:
        cases = [
            (["   "], "prompt is empty"),
            (["x" * 40000], "characters"),
            (["a cat", "--size", "123x77"], "123x77"),
            (["a cat", "--negative-prompt", "dogs"], "negative prompt"),
            (["a cat", "--style", "nope"], "no style 'nope'"),
            (["a cat", "--quality", "ultra"], "no quality 'ultra'"),
            (["a cat", "--init-image", str(tmp_path / "none.png")], "cannot read"),
        ]
        trunc = tmp_path / "trunc.png"
        Image.new("RGB", (64, 64), (1, 2, 3)).save(trunc)
        trunc.write_bytes(trunc.read_bytes()[:60])
        cases.append((["a cat", "--init-image", str(trunc), "--strength", "0.5"], "unusable"))
        for args, fragment in cases:
            code, _, err = run(capsys, "--data-dir", data, "generate", *args, "--provider", "openai")
            assert code == 2 and fragment in err, (args, err)
    finally:
        fake.stop()
    assert [r for r in fake.log if r.method == "POST"] == []


def test_generate_falls_back_when_provider_down(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGES_STUDIO_POLL_INTERVAL", "0.01")
    openai, _, _ = _openai(monkeypatch)
    pollinations, _, _ = _pollinations(monkeypatch)
    openai.fault("generations", Reply(503, {"error": {"message": "overloaded", "type": "server_error"}}), times=10)
    try:
        code, objs, err = run(capsys, "--data-dir", str(tmp_path / "lib"), "generate", "a lighthouse",
                              "--provider", "openai", "--fallback", "pollinations", "--json")
    finally:
        openai.stop()
        pollinations.stop()
    assert code == 0, err
    assert objs[0]["provider"] == "pollinations" and objs[0]["fallback_from"] == "openai"


def test_providers_json_lists_capabilities(capsys):
    code, objs, _ = run(capsys, "providers", "--json")
    assert code == 0
    ids = [o["id"] for o in objs]
    assert set(ids) == {"openai", "stability", "replicate", "kie", "pollinations", "a1111", "comfyui"}
    for obj in objs:
        assert obj["models"] and all("max_count" in m and "price_usd" in m for m in obj["models"])
