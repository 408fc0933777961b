"""The real start-up path: QApplication, qasync loop, services, window with every feature, files opened from
the desktop imported, clean exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from desktop import gui

    original = gui.install_feature_ui

    def install_then_close_soon(window, services, runner):
        original(window, services, runner)
        titles = [a.text() for a in window.menuBar().actions()]
        print("menus:", ",".join(titles), flush=True)
        QTimer.singleShot(1500, window.close)   # what a user's click on the close button does

    gui.install_feature_ui = install_then_close_soon
    from desktop.app import main
    sys.exit(main(sys.argv[1:]))   # exactly what `images-studio --data-dir DIR [FILE...]` runs
""")


def test_window_opens_with_every_feature_and_exits_cleanly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    data = tmp_path / "library"
    from PIL import Image

    opened = tmp_path / "opened-from-file-manager.png"
    Image.new("RGB", (40, 30), (10, 200, 90)).save(opened)
    done = subprocess.run([sys.executable, "-c", SCRIPT, "--data-dir", str(data), str(opened)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    menus = done.stdout.split("menus:", 1)[1].split()[0].split(",")
    for expected in ("&File", "&Edit", "&View", "&Tools", "&Help"):
        assert expected in menus
    assert (data / "library.sqlite3").is_file() and (data / "logs" / "studio.log").is_file()
    assert "starting; data folder" in (data / "logs" / "studio.log").read_text()
    listed = subprocess.run([sys.executable, "-m", "desktop", "--data-dir", str(data), "list", "--json"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.stdout.count("\n") == 1  # the file handed over by the desktop was imported
