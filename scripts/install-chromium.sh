#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the Web UI browser test, once.
# Idempotent: does nothing but print the version when Chromium is already there.
# Needs root (CI runs as root) or passwordless sudo. Test tools' own browser downloads
# (`npx playwright install`) do not work on this network; Debian's package does.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-chromium: $CHROMIUM is missing and installing it needs root (run: sudo $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # One apt run at a time, even when several processes ask at once.
  exec 9>/tmp/install-chromium.lock
  flock 9
  if [ ! -x "$CHROMIUM" ]; then
    echo "install-chromium: $CHROMIUM missing; running apt-get update"
    "${SUDO[@]}" apt-get update -q
    echo "install-chromium: running apt-get install -y chromium"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium
  fi
fi

# (Debian's launcher script prints a harmless shell warning on stderr on some machines.)
"$CHROMIUM" --version 2>/dev/null
