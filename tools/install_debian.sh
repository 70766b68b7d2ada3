#!/bin/sh
# Install one of Debian's packages the tests use, unless its command is already there:
#   sh tools/install_debian.sh PACKAGE COMMAND "WHAT IT IS FOR"
# chromium drives kaleido's PNG/SVG/PDF export and the browser tests; redis-server runs the job
# queue once on Redis, as several dashboard replicas sharing one queue would (the default queue,
# SQLite, needs nothing).
set -e
package=$1 command=$2 why=$3
if command -v "$command" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "warning: $command is missing and this user cannot install it (apt-get install -y $package as root);" >&2
  echo "         $why need(s) it." >&2
  exit 0
fi
echo "installing Debian's $package (for $why)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null
