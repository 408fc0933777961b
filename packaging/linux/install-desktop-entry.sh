#!/usr/bin/env bash
# Add AI Images Studio to the desktop's application menu for the current user (no root needed):
# the .desktop entry, the hicolor icons and the AppStream metadata go under ${XDG_DATA_HOME:-~/.local/share},
# and the entry launches this checkout's .venv/bin/images-studio by absolute path.
#
#   packaging/linux/install-desktop-entry.sh              install or refresh (safe to run again)
#   packaging/linux/install-desktop-entry.sh --uninstall  remove what install added
#   packaging/linux/install-desktop-entry.sh --exec PATH  launch PATH instead (e.g. a PyInstaller bundle)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
app_id="ai-images-studio"
metainfo_name="io.github.ai_images_studio.metainfo.xml"
icon_src="$repo/resources/icons/app"
sizes=(16 32 48 64 128 256 512)

mode="install"
exec_path="$repo/.venv/bin/images-studio"
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) mode="uninstall" ;;
    --exec) shift; exec_path="${1:?--exec needs a path}" ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

apps_dir="$data_home/applications"
icons_dir="$data_home/icons/hicolor"
metainfo_dir="$data_home/metainfo"

refresh_caches() {
  # Both tools are optional: menus pick the files up on their own, the caches only make it immediate.
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$apps_dir" || true
  fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$icons_dir/index.theme" ]; then
    gtk-update-icon-cache -q -t -f "$icons_dir" || true
  fi
}

if [ "$mode" = "uninstall" ]; then
  rm -f "$apps_dir/$app_id.desktop" "$metainfo_dir/$metainfo_name" "$icons_dir/scalable/apps/$app_id.svg"
  for s in "${sizes[@]}"; do
    rm -f "$icons_dir/${s}x${s}/apps/$app_id.png"
  done
  refresh_caches
  echo "Removed the AI Images Studio desktop entry and icons from $data_home"
  exit 0
fi

case "$exec_path" in
  /*) ;;
  *) exec_path="$(pwd)/$exec_path" ;;
esac
if [ ! -x "$exec_path" ]; then
  echo "$exec_path does not exist or is not executable." >&2
  echo "Run packaging/setup.sh first (it creates .venv and installs the app), or pass --exec PATH." >&2
  exit 1
fi
case "$exec_path" in
  *[[:space:]\"\'\\\`\$%]*)
    echo "Please use a path without spaces, quotes, backslashes, \$ or % for the launcher: $exec_path" >&2
    exit 1 ;;
esac

mkdir -p "$apps_dir" "$metainfo_dir" "$icons_dir/scalable/apps"
for s in "${sizes[@]}"; do
  install -D -m 0644 "$icon_src/hicolor/${s}x${s}/apps/$app_id.png" "$icons_dir/${s}x${s}/apps/$app_id.png"
done
install -m 0644 "$icon_src/$app_id.svg" "$icons_dir/scalable/apps/$app_id.svg"
install -m 0644 "$here/$metainfo_name" "$metainfo_dir/$metainfo_name"

# Write to a temporary file and move it into place, so a menu never reads a half-written entry.
tmp="$(mktemp "$apps_dir/.$app_id.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
sed -e "s|^Exec=images-studio |Exec=$exec_path |" -e "s|^TryExec=images-studio\$|TryExec=$exec_path|" \
  "$here/$app_id.desktop" > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$apps_dir/$app_id.desktop"
trap - EXIT

refresh_caches
echo "Installed $apps_dir/$app_id.desktop (launches $exec_path)"
