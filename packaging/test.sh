#!/usr/bin/env bash
# Set up (first time) and run the whole test suite headless: layering contracts, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh test
export QT_QPA_PLATFORM=offscreen
.venv/bin/lint-imports
.venv/bin/python -m pytest -q "$@"
