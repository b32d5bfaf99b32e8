#!/usr/bin/env bash
# Installs the Debian packages ringwire needs, if any is missing.
# Usage: scripts/ensure-deps.sh PACKAGE...   (runs apt-get as root, or via sudo)
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ringwire: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "ringwire: cargo not found: install Rust 1.89 or newer (https://rustup.rs), then run this again" >&2
  exit 1
fi
