"""Builds the generation UI's view-models from the composition root's services, so that the views
(desktop.ui.generate) never import the service container or the wiring (import-linter, pyproject.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject

from desktop.services.container import AppServices
from desktop.services.wiring import attach_generation
from desktop.viewmodels.generation import GenerateViewModel
from desktop.viewmodels.generation_queue import GenerationLibrary, QueueViewModel

__all__ = ["GenerationServices", "GenerationViewModels", "build_generation_viewmodels"]

# What `install_generation_ui` is handed: the composition root's services (named here so views need not
# import the container to annotate it).
GenerationServices = AppServices


@dataclass
class GenerationViewModels:
    generate: GenerateViewModel
    queue: QueueViewModel
    library: GenerationLibrary
    provider_names: dict[str, str]  # provider id -> display name, for the requested/actual comparison


def build_generation_viewmodels(services: AppServices, parent: QObject | None = None) -> GenerationViewModels:
    """Attach the generation stack if the composition root has not yet, then build the view-models over it."""
    generation = services.extras.get("generation") or attach_generation(services)
    library = services.library
    vm = GenerateViewModel(generation, library.library, services.extras.get("secrets"), parent=parent,
                           found_local=lambda: services.extras.get("local_backends") or {})
    names = {info.id: info.name for info in services.catalogue.all()}
    return GenerationViewModels(vm, QueueViewModel(generation), GenerationLibrary(generation, library), names)
