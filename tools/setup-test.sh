#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: Debian's chromium for the browser test and
# Debian's haproxy for the guard's tests, openssl for their certificates.
set -euo pipefail

case "${1:-}" in
  "") ;;
  -h|--help) echo "usage: npm run setup:test   installs Debian's chromium, haproxy and openssl when they are missing (CHROMIUM_PATH and HAPROXY_PATH point at other ones)"; exit 0 ;;
  *) echo "setup:test: unknown argument '$1'" >&2; echo "usage: npm run setup:test" >&2; exit 2 ;;
esac

missing=()
if command -v chromium >/dev/null 2>&1; then
  echo "setup:test: chromium present ($(chromium --version 2>/dev/null | head -n1))"
else
  missing+=(chromium)
fi
if command -v haproxy >/dev/null 2>&1; then
  echo "setup:test: haproxy present ($(haproxy -v 2>/dev/null | head -n1))"
else
  missing+=(haproxy)
fi
# The guard's and the stand-in's TLS tests make self-signed certificates with openssl.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup:test: ${missing[*]} missing and apt-get is not available; install them (or set CHROMIUM_PATH / HAPROXY_PATH)" >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup:test: ${missing[*]} missing; run as root or install the Debian package(s) ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

echo "setup:test: installing Debian's ${missing[*]} (a few minutes on a fresh machine)…"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
for package in "${missing[@]}"; do
  case "$package" in
    chromium) echo "setup:test: $(chromium --version | head -n1) installed" ;;
    haproxy) echo "setup:test: $(haproxy -v | head -n1) installed" ;;
    openssl) echo "setup:test: $(openssl version) installed" ;;
  esac
done
