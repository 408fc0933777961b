#!/usr/bin/env bash
# Set up (first time) and launch AI Images Studio. Extra arguments go to the app, e.g. --data-dir DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
exec .venv/bin/images-studio "$@"
