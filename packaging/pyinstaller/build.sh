#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle into dist/ai-images-studio/ (work files in build/pyinstaller/).
# Needs the project venv (packaging/setup.sh); installs PyInstaller into it when it is missing.
# Extra arguments go to pyinstaller, e.g. --log-level WARN.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ]; then
  echo ".venv is missing: run packaging/setup.sh first" >&2
  exit 1
fi
if ! .venv/bin/python -c "import PyInstaller" >/dev/null 2>&1; then
  echo "Installing PyInstaller into .venv" >&2
  .venv/bin/python -m pip install -q "pyinstaller>=6.10"
fi
start=$(date +%s)
.venv/bin/python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
  "$@" packaging/pyinstaller/ai-images-studio.spec
echo "Built dist/ai-images-studio in $(( $(date +%s) - start )) s, $(du -sh dist/ai-images-studio | cut -f1)"
echo "Run: dist/ai-images-studio/ai-images-studio   (no arguments = window; 'providers', 'list', ... = CLI)"
