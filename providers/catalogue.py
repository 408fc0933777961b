"""Provider and model capabilities and prices, read from data (`resources/providers/*.json`).

Model lists change faster than code (DALL·E and gpt-image-1 are retired), so nothing here names a model.
Each JSON file describes one provider:

    {"id": "openai", "name": "OpenAI", "key_env": "OPENAI_API_KEY", "key_url": "...",
     "base_url": "https://api.openai.com/v1", "needs_key": true, "kind": "sync" | "async",
     "supports_cancel": false, "prices_date": "2026-11-01", "default_model": "gpt-image-2",
     "models": [{"id": "gpt-image-2", "label": "GPT Image 2", "sizes": ["1024x1024", ...],
                 "aspect_ratios": ["1:1", ...], "max_count": 10, "seed": false, "negative_prompt": false,
                 "img2img": true, "styles": [], "qualities": ["low", "medium", "high"],
                 "max_prompt_chars": 32000, "price_usd": 0.04,
                 "prices": {"quality:high": 0.17, "size:1536x1024": 0.06}, "typical_seconds": 20}]}

An optional per-model "api" string names the API family or input dialect the adapter must use for that model
(KIE: "market", "flux-kontext", "4o-image"; Replicate: "flux", "sdxl"); its meaning is the adapter's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Capabilities:
    """What one model supports; the parameters view shows only these controls."""

    model: str
    label: str
    sizes: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    max_count: int = 1
    seed: bool = False
    negative_prompt: bool = False
    img2img: bool = False
    styles: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    max_prompt_chars: int = 4000
    price_usd: float | None = None  # per image, the default size and quality
    prices: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    typical_seconds: float = 20.0
    any_size: bool = False  # free width/height (multiples of 8/64) within min/max
    min_side: int = 64
    max_side: int = 2048
    api: str = ""  # which API family/dialect of the provider serves this model (e.g. KIE "market")

    def price_for(self, size: str | None = None, quality: str | None = None) -> float | None:
        """Price of one image for a size and quality; a quality or size entry overrides the default."""
        for key in (f"size:{size}|quality:{quality}", f"quality:{quality}", f"size:{size}"):
            if key in self.prices:
                return self.prices[key]
        return self.price_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.model, "label": self.label, "sizes": list(self.sizes),
            "aspect_ratios": list(self.aspect_ratios), "max_count": self.max_count, "seed": self.seed,
            "negative_prompt": self.negative_prompt, "img2img": self.img2img, "styles": list(self.styles),
            "qualities": list(self.qualities), "max_prompt_chars": self.max_prompt_chars,
            "price_usd": self.price_usd, "any_size": self.any_size, "typical_seconds": self.typical_seconds,
            "api": self.api,
        }


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    name: str
    base_url: str
    key_env: str | None
    key_url: str = ""
    needs_key: bool = True
    kind: str = "sync"
    supports_cancel: bool = False
    prices_date: str = ""
    default_model: str = ""
    local: bool = False
    notes: str = ""
    models: tuple[Capabilities, ...] = ()

    def model(self, model_id: str) -> Capabilities | None:
        for caps in self.models:
            if caps.model == model_id:
                return caps
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "base_url": self.base_url, "key_env": self.key_env,
            "key_url": self.key_url, "needs_key": self.needs_key, "kind": self.kind,
            "supports_cancel": self.supports_cancel, "prices_date": self.prices_date,
            "default_model": self.default_model, "local": self.local,
            "models": [m.to_json() for m in self.models],
        }


def _caps(raw: dict[str, Any]) -> Capabilities:
    return Capabilities(
        model=str(raw["id"]),
        label=str(raw.get("label", raw["id"])),
        sizes=tuple(raw.get("sizes", ())),
        aspect_ratios=tuple(raw.get("aspect_ratios", ())),
        max_count=int(raw.get("max_count", 1)),
        seed=bool(raw.get("seed", False)),
        negative_prompt=bool(raw.get("negative_prompt", False)),
        img2img=bool(raw.get("img2img", False)),
        styles=tuple(raw.get("styles", ())),
        qualities=tuple(raw.get("qualities", ())),
        max_prompt_chars=int(raw.get("max_prompt_chars", 4000)),
        price_usd=raw.get("price_usd"),
        prices={str(k): float(v) for k, v in raw.get("prices", {}).items()},
        typical_seconds=float(raw.get("typical_seconds", 20.0)),
        any_size=bool(raw.get("any_size", False)),
        min_side=int(raw.get("min_side", 64)),
        max_side=int(raw.get("max_side", 2048)),
        api=str(raw.get("api", "")),
    )


def parse_provider(raw: dict[str, Any]) -> ProviderInfo:
    return ProviderInfo(
        id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        base_url=str(raw["base_url"]),
        key_env=raw.get("key_env"),
        key_url=str(raw.get("key_url", "")),
        needs_key=bool(raw.get("needs_key", True)),
        kind=str(raw.get("kind", "sync")),
        supports_cancel=bool(raw.get("supports_cancel", False)),
        prices_date=str(raw.get("prices_date", "")),
        default_model=str(raw.get("default_model", "")),
        local=bool(raw.get("local", False)),
        notes=str(raw.get("notes", "")),
        models=tuple(_caps(m) for m in raw.get("models", ())),
    )


class Catalogue:
    """All providers known to the app, in display order."""

    ORDER = ("pollinations", "openai", "stability", "replicate", "kie", "a1111", "comfyui")

    def __init__(self, providers: dict[str, ProviderInfo]) -> None:
        self._providers = providers

    @classmethod
    def load(cls, folder: Path | None = None) -> Catalogue:
        """Read every `*.json` in `folder`, by default the packaged `resources/providers`."""
        found: dict[str, ProviderInfo] = {}
        if folder is not None:
            files = sorted(Path(folder).glob("*.json"))
            texts = [(p.name, p.read_text(encoding="utf-8")) for p in files]
        else:
            root = resources.files("resources").joinpath("providers")
            texts = [(e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".json")]
        for _name, text in sorted(texts):
            info = parse_provider(json.loads(text))
            found[info.id] = info
        return cls(found)

    def ids(self) -> list[str]:
        known = [p for p in self.ORDER if p in self._providers]
        return known + sorted(p for p in self._providers if p not in known)

    def get(self, provider_id: str) -> ProviderInfo:
        try:
            return self._providers[provider_id]
        except KeyError:
            raise KeyError(f"unknown provider {provider_id!r}; known: {', '.join(self.ids())}") from None

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._providers

    def all(self) -> list[ProviderInfo]:
        return [self._providers[i] for i in self.ids()]

    def capabilities(self, provider_id: str, model_id: str) -> Capabilities | None:
        return self.get(provider_id).model(model_id)
