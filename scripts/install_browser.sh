#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests marked `browser`), installed when missing.
# Playwright drives this binary; it never downloads a browser of its own. Without root or apt
# (a developer's machine) this only says so: the browser tests then skip, except under CI=true,
# where they fail.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no chromium, and not root with apt-get: browser tests will skip" >&2
  exit 0
fi
# Other jobs may hold the dpkg lock for a while (shared CI hosts): wait for it, do not fail.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null \
  || { apt_get update >/dev/null && apt_get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null; } \
  || echo "install_browser: apt-get could not install chromium" >&2
