#!/bin/sh
# Debian's chromium drives kaleido's PNG/SVG/PDF export and the browser tests.
set -e
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "warning: chromium is missing and this user cannot install it (apt-get install -y chromium as root);" >&2
  echo "         image export and the browser tests need it." >&2
  exit 0
fi
echo "installing Debian's chromium (for image export and browser tests)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
