#!/usr/bin/env bash
# Install Debian/Ubuntu packages non-interactively (with sudo -n when not root); a no-op for packages
# already installed. Used by install_browser.sh and install_test_data.sh.
#
# Usage: scripts/apt_install.sh PACKAGE...
set -euo pipefail
missing=()
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "apt_install: already installed: $*"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt_install: no apt-get; install ${missing[*]} by hand" >&2
    exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo -n); fi  # -n: fail rather than wait for a password
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
