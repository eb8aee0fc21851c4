#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian/Ubuntu apt) and selenium, for tests/test_explorer.py.
# Idempotent and non-interactive: each step is skipped when already satisfied.
#
# Usage: scripts/install_browser.sh [PYTHON]
#   PYTHON: the interpreter whose environment gets selenium (default: .venv/bin/python). When it does not
#   exist yet (CI runs this before creating the venv), the pip step is skipped: the dev extra brings selenium.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-.venv/bin/python}"

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "install_browser: chromium and chromedriver already installed"
else
    scripts/apt_install.sh chromium chromium-driver
fi

if [ ! -x "$py" ]; then
    echo "install_browser: $py does not exist yet; skipping selenium (pip install -e '.[dev]' brings it)"
elif "$py" -c "import selenium" >/dev/null 2>&1; then
    echo "install_browser: selenium already installed for $py"
else
    "$py" -m pip install -q "selenium>=4.11"
fi
echo "install_browser: $(chromium --version 2>/dev/null); $(chromedriver --version | cut -d' ' -f1-2)"
