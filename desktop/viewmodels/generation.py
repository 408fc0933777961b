"""The generate view-model: provider/model lists, the current capabilities, the form, live validation, the
cost estimate and submit; JobService events re-emitted as a Qt signal on the GUI thread.

Views bind to its signals and call its commands; it never touches widgets (architecture §1, §12).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from desktop.services.generation import GenerationService
from desktop.services.jobs import JobEvent
from desktop.viewmodels import generation_form as F
from desktop.viewmodels.generation_form import FormState
from providers.base import ImageRequest, ProviderError
from providers.catalogue import Capabilities, ProviderInfo
from providers.registry import base_url_env_names
from providers.validation import problems

log = logging.getLogger(__name__)

DEFAULT_PROVIDER = "pollinations"  # free and keyless: a new user can generate at once
LAST_CHOICE_KEY = "generate_last_choice"


class Settings(Protocol):
    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class ProviderChoice:
    id: str
    name: str
    missing_key: bool
    local: bool

    @property
    def label(self) -> str:
        return f"{self.name} (needs key)" if self.missing_key else self.name


class GenerateViewModel(QObject):
    formChanged = Signal()  # any field changed: views re-read `form` (guarded against echo)
    capabilitiesChanged = Signal()  # provider or model changed: views rebuild which controls show
    providersChanged = Signal()  # key status or local backends became known
    validationChanged = Signal()  # problems / cost / summary changed
    jobEvent = Signal(object)  # JobEvent, always delivered on the GUI thread
    submitted = Signal(int)

    def __init__(self, generation: GenerationService, settings: Settings, secrets: Any = None,
                 parent: QObject | None = None, found_local: Callable[[], Iterable[str]] | None = None) -> None:
        super().__init__(parent)
        self.generation = generation
        self.catalogue = generation.catalogue
        self.settings = settings
        self.secrets = secrets
        self.presets = generation.presets
        self._missing_key: dict[str, bool] = {}
        self._local_found: set[str] = set()
        self._found_local = found_local or (lambda: ())  # backends the app's start-up probe already found
        self._models: dict[str, str] = {}  # last model chosen per provider, restored on switching back
        self._problems: list[str] = []
        self._request: ImageRequest | None = None
        self._cost: float | None = None
        self._summary = ""
        self._raw_event.connect(self._deliver_event)
        self._unsubscribe = generation.jobs.events.subscribe(self._raw_event.emit)
        last = settings.get_setting(LAST_CHOICE_KEY, None) or {}
        provider = last.get("provider") if isinstance(last, dict) else None
        if provider not in self.catalogue:
            provider = DEFAULT_PROVIDER if DEFAULT_PROVIDER in self.catalogue else self.catalogue.ids()[0]
        info = self.catalogue.get(provider)
        model = last.get("model") if isinstance(last, dict) else None
        self.form = FormState(provider=provider, model=model if info.model(model or "") else "")
        self._apply(self.form, caps_changed=True)

    # Emitted from whatever thread publishes; a Qt signal to our own slot queues it onto the GUI thread.
    _raw_event = Signal(object)

    def _deliver_event(self, event: JobEvent) -> None:
        self.jobEvent.emit(event)

    def close(self) -> None:
        self._unsubscribe()

    # -- providers and models ---------------------------------------------------------------------------
    def providers(self) -> list[ProviderChoice]:
        """Cloud providers always; local backends only when configured or found running."""
        out = []
        for info in self.catalogue.all():
            if info.local and not self._local_configured(info.id) and info.id != self.form.provider:
                continue
            setting = self._setting(info.id)
            if setting is not None and not setting.enabled and info.id != self.form.provider:
                continue  # switched off in Settings ▸ Providers
            out.append(ProviderChoice(info.id, info.name, self._missing_key.get(info.id, False), info.local))
        return out

    def _setting(self, provider_id: str) -> Any:
        getter = getattr(self.settings, "provider_setting", None)
        return getter(provider_id) if getter else None

    def _preferred_model(self, info: ProviderInfo) -> str:
        """The model last used with this provider, else the one chosen in Settings, else the catalogue's."""
        setting = self._setting(info.id)
        chosen = setting.default_model if setting is not None else ""
        if chosen and (info.model(chosen) or info.local):
            return chosen
        return info.default_model or info.models[0].model

    def _local_configured(self, provider_id: str) -> bool:
        if provider_id in self._local_found or provider_id in set(self._found_local()):
            return True
        if any(os.environ.get(n) for n in base_url_env_names(provider_id)):
            return True
        getter = getattr(self.settings, "provider_setting", None)
        setting = getter(provider_id) if getter else None
        return bool(setting is not None and setting.enabled and setting.base_url)

    async def refresh_availability(self, detect_local: bool = True) -> None:
        """Which providers lack a key (keyring reads block: worker thread) and which local backends run."""
        missing: dict[str, bool] = {}
        for info in self.catalogue.all():
            if not info.needs_key:
                continue
            env_name = info.key_env or ""
            if self.secrets is not None:
                key = await asyncio.to_thread(self.secrets.get, info.id, env_name)
            else:
                key = os.environ.get(env_name, "").strip() if env_name else None
            missing[info.id] = not key
        self._missing_key = missing
        if detect_local:
            from providers.local_detect import detect_local_backends

            self._local_found = set(await detect_local_backends(self.catalogue, timeout_s=0.4))
        self.providersChanged.emit()
        self._apply(self.form)

    def info(self) -> ProviderInfo:
        return self.catalogue.get(self.form.provider)

    def caps(self) -> Capabilities:
        info = self.info()
        return info.model(self.form.model) or info.model(info.default_model) or info.models[0]

    def set_provider(self, provider_id: str) -> None:
        if provider_id == self.form.provider or provider_id not in self.catalogue:
            return
        info = self.catalogue.get(provider_id)
        model = self._models.get(provider_id) or self._preferred_model(info)
        self._apply(dataclasses.replace(self.form, provider=provider_id, model=model), caps_changed=True)

    def set_model(self, model_id: str) -> None:
        if model_id != self.form.model and self.info().model(model_id) is not None:
            self._apply(dataclasses.replace(self.form, model=model_id), caps_changed=True)

    # -- form ---------------------------------------------------------------------------------------------
    def update(self, **changes: Any) -> None:
        """Change form fields (prompt=..., count=..., shape=...). Provider/model go through set_*."""
        changes.pop("provider", None)
        changes.pop("model", None)
        new = dataclasses.replace(self.form, **changes)
        if new != self.form:
            self._apply(new)

    def replace_form(self, new: FormState) -> None:
        """Take a whole form (reuse parameters): provider/model may change too."""
        caps_changed = (new.provider, new.model) != (self.form.provider, self.form.model)
        if new.provider not in self.catalogue:
            new = dataclasses.replace(new, provider=self.form.provider, model=self.form.model)
        self._apply(new, caps_changed=caps_changed)

    def _apply(self, new: FormState, caps_changed: bool = False) -> None:
        info = self.catalogue.get(new.provider)
        caps = info.model(new.model) or info.model(info.default_model) or info.models[0]
        new = F.normalise(dataclasses.replace(new, model=caps.model), caps, self.presets)
        self._models[new.provider] = new.model
        self.form = new
        self._revalidate(info, caps)
        if caps_changed:
            self.capabilitiesChanged.emit()
        self.formChanged.emit()
        self.validationChanged.emit()

    def _revalidate(self, info: ProviderInfo, caps: Capabilities) -> None:
        request = F.to_request(self.form, caps)
        found = problems(self.generation.styled(request), caps)
        if self._missing_key.get(info.id):
            where = f" or set {info.key_env}" if info.key_env else ""
            found.insert(0, f"{info.name} needs an API key: add one in Settings ▸ Providers{where}")
        self._request = request
        self._problems = found
        self._cost = F.estimate_usd(request, caps)
        self._summary = F.summary(request, info, caps, self._cost)

    # -- derived ------------------------------------------------------------------------------------------
    @property
    def problems(self) -> list[str]:
        return list(self._problems)

    @property
    def can_submit(self) -> bool:
        return not self._problems

    @property
    def estimated_cost(self) -> float | None:
        return self._cost

    @property
    def cost_text(self) -> str:
        return F.cost_text(self._cost)

    @property
    def summary(self) -> str:
        return self._summary

    def request(self) -> ImageRequest:
        assert self._request is not None
        return self._request

    def shape_options(self) -> list[F.Option]:
        return F.shape_options(self.caps())

    def style_options(self) -> list[F.Option]:
        return F.style_options(self.caps(), self.presets)

    def confirm_threshold(self) -> float:
        try:
            return float(self.settings.get_setting("confirm_cost_usd", 1.0))
        except (TypeError, ValueError):
            return 1.0

    def needs_confirmation(self) -> bool:
        return self._cost is not None and self._cost > self.confirm_threshold()

    def fallback_order(self) -> list[str]:
        raw = self.settings.get_setting("fallback_order", []) or []
        if isinstance(raw, str):
            raw = [p.strip() for p in raw.split(",")]
        return [p for p in raw if isinstance(p, str) and p in self.catalogue and p != self.form.provider]

    # -- commands -----------------------------------------------------------------------------------------
    def submit(self) -> int | None:
        """Start one job for the current form; None (and nothing sent) when it cannot be sent."""
        if not self.can_submit or self._request is None:
            return None
        try:
            job_id = self.generation.submit(self._request, fallback=self.fallback_order())
        except ProviderError as exc:  # validation the form could not foresee: show it, send nothing
            self._problems = [exc.message]
            self.validationChanged.emit()
            return None
        try:
            self.settings.set_setting(LAST_CHOICE_KEY, {"provider": self.form.provider, "model": self.form.model})
        except Exception:  # remembering the choice is a convenience; never fail a submit over it
            log.warning("could not remember the provider choice", exc_info=True)
        if self.form.seed_mode == "increment" and self._request.seed is not None:
            self.update(seed=(self.form.seed + self._request.count) % 2**32)
        self.submitted.emit(job_id)
        return job_id

    def random_seed(self) -> None:
        self.update(seed=int.from_bytes(os.urandom(4), "big"), seed_mode=self.form.seed_mode
                    if self.form.seed_mode != "random" else "fixed")

    def reuse(self, image: F.Reused, parts: list[str]) -> None:
        info = self.catalogue.get(image.provider) if image.provider in self.catalogue else None
        self.replace_form(F.reuse(self.form, image, parts, info))
