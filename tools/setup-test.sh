#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: Debian's chromium for the browser test.
set -euo pipefail

case "${1:-}" in
  "") ;;
  -h|--help) echo "usage: npm run setup:test   installs Debian's chromium when it is missing (CHROMIUM_PATH points at another one)"; exit 0 ;;
  *) echo "setup:test: unknown argument '$1'" >&2; echo "usage: npm run setup:test" >&2; exit 2 ;;
esac

if command -v chromium >/dev/null 2>&1; then
  echo "setup:test: chromium present ($(chromium --version 2>/dev/null | head -n1))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup:test: chromium is missing and apt-get is not available; install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup:test: chromium is missing; run as root or install the 'chromium' package" >&2; exit 1; }
  as_root=(sudo)
fi

echo "setup:test: installing Debian's chromium (a few minutes on a fresh machine)…"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
echo "setup:test: $(chromium --version | head -n1) installed"
