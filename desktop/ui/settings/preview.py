"""Screenshots of the money UI over a real, synthetic library (a development tool, not part of the app).

    python -m desktop.ui.settings.preview --out docs/screenshots [--data-dir DIR] [--dark]

Fills a fresh library's ledger with a month of plausible requests through storage.quotas (the same calls
the quota guard makes), sets quotas, saves a key in an in-memory keyring, tests a Stability key against the
loopback fake from tests/ (real HTTP), then saves PNGs of the provider page, the quotas page, the general
page, the no-keyring banner and the usage view.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# (provider, model, unit USD, requests per day at most, reported?)
TRAFFIC = (("openai", "gpt-image-2", 0.0317, 3, True), ("stability", "stable-image-core", 0.03, 3, False),
           ("replicate", "black-forest-labs/flux-schnell", 0.003, 5, False),
           ("kie", "flux-kontext-pro", 0.025, 2, False))


def fill_ledger(db: Any, days: int = 30, seed: int = 7) -> None:
    from storage import quotas as q

    rnd = random.Random(seed)
    now = time.time()
    for back in range(days, -1, -1):
        day = q.days_back(now, back)
        for provider, model, unit, most, reported in TRAFFIC:
            for _ in range(rnd.randint(0, most)):
                when = min(now - 60, day + rnd.uniform(8, 22) * 3600)
                count = rnd.choice((1, 1, 2, 4))
                r = q.reserve(db, None, provider, model, count, unit, when)
                status = rnd.choices(("ok", "failed", "cancelled"), (0.88, 0.09, 0.03))[0]
                usd = round(unit * count * rnd.uniform(0.85, 1.2), 4) if reported and status == "ok" else None
                raw = '{"output_tokens":%d}' % (1056 * count) if usd else ""
                q.settle(db, r.ledger_id, status, int(rnd.uniform(2, 25) * 1000), usd, raw,
                         f"req_{rnd.randrange(16**8):08x}", count)


class _MemoryKeyring:
    """A throw-away keyring for the preview (the real one must never be touched by a screenshot run)."""

    @staticmethod
    def install() -> None:
        import keyring
        import keyring.backend

        class Memory(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]
            store: dict[tuple[str, str], str] = {}

            def get_password(self, service: str, username: str) -> str | None:
                return self.store.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.store[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self.store.pop((service, username), None)

        keyring.set_keyring(Memory())


async def _settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)  # the Qt loop paints while we wait


async def run(args: argparse.Namespace) -> int:
    import keyring
    from keyring.backends import fail
    from PySide6.QtWidgets import QMainWindow

    from desktop.asyncqt import TaskRunner
    from desktop.services.keys import KeyService
    from desktop.services.container import build_services
    from desktop.ui.settings import install_money_ui
    from desktop.viewmodels.money import KeysViewModel
    from storage import quotas as q
    from storage.paths import AppPaths
    from storage.secrets import SecretStore

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="studio-preview-"))
    _MemoryKeyring.install()
    services = build_services(AppPaths.resolve(data))
    runner = TaskRunner()
    fake = None
    try:
        fill_ledger(services.db)
        q.set_quota(services.db, "openai", images_per_day=40, usd_per_day=2.0, usd_per_month=25.0)
        q.set_quota(services.db, "stability", usd_per_month=10.0)
        q.set_quota(services.db, "replicate", images_per_day=100)
        q.set_quota(services.db, q.GLOBAL, usd_per_month=40.0)
        ui_fallback = ["openai", "stability", "replicate"]
        try:  # a real key test over loopback HTTP, when the repository's fakes are importable
            from tests.fakes.servers.stability_fake import StabilityFake

            fake = StabilityFake(credits=1240.5).start()
            os.environ["IMAGES_STUDIO_STABILITY_BASE_URL"] = fake.url
        except ImportError:
            fake = None
        window = QMainWindow()
        window.resize(400, 300)
        install_money_ui(window, services, runner)
        ui = window.money_ui  # type: ignore[attr-defined]
        ui.bundle.money.set_fallback_order(ui_fallback)
        await ui.bundle.keys.set("openai", "sk-preview-not-a-real-key-000000")
        dialog = ui.open_settings("stability")
        await _settle()
        if fake is not None:
            page = dialog.provider_pages["stability"]
            page.key_edit.setText(fake.key)
            await page.save_key()
            await page.test_key()
        await _settle()
        dialog.grab().save(str(out / "settings-provider.png"))
        dialog.show_page("openai")
        await _settle()
        dialog.grab().save(str(out / "settings-provider-openai.png"))
        dialog.show_page("quotas")
        await _settle()
        dialog.grab().save(str(out / "settings-quotas.png"))
        dialog.show_page("general")
        await _settle()
        dialog.grab().save(str(out / "settings-general.png"))
        usage = ui.open_usage()
        await _settle(0.5)
        usage.grab().save(str(out / "usage.png"))
        dialog.close()
        keyring.set_keyring(fail.Keyring())  # what a headless Linux box without a keyring daemon shows
        # A fresh SecretStore: a store resolves its backend once, on first use.
        keys = KeysViewModel(KeyService(SecretStore(), services.catalogue))
        ui.bundle = dataclasses.replace(ui.bundle, keys=keys)
        ui.settings = None
        dialog = ui.open_settings("kie")
        await _settle()
        dialog.grab().save(str(out / "settings-no-keyring.png"))
        print(f"saved screenshots to {out}")
        for widget in (dialog, usage, window):
            widget.close()
        await runner.cancel_all()
        await services.extras["generation"].aclose()
    finally:
        if fake is not None:
            fake.stop()
        services.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    import qasync

    from desktop.ui.theme import apply_app_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_app_style(app)  # type: ignore[arg-type]
    if args.dark:
        from desktop.ui.preview import _dark_palette

        app.setPalette(_dark_palette())  # type: ignore[union-attr]
    return int(qasync.run(run(args)) or 0)


if __name__ == "__main__":
    sys.exit(main())
