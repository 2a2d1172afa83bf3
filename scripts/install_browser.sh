#!/usr/bin/env bash
# Debian packages some tests drive, installed when missing: Chromium for the browser tests (tests
# marked `browser`; Playwright drives this binary and never downloads a browser of its own), and
# iptables for the database-partition test (tests/attack/test_db_partition.py drops a private
# PostgreSQL's packets). Without root or apt (a developer's machine) this only says so: those tests
# then skip, except the browser tests under CI=true, which fail.
set -uo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
want=()
have chromium || have chromium-browser || want+=(chromium fonts-dejavu-core)
have iptables || want+=(iptables)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "install_browser: missing ${want[*]}, and not root with apt-get: their tests will skip" >&2
  exit 0
fi
# Other jobs may hold the dpkg lock for a while (shared CI hosts): wait for it, do not fail.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get install -y --no-install-recommends "${want[@]}" >/dev/null \
  || { apt_get update >/dev/null && apt_get install -y --no-install-recommends "${want[@]}" >/dev/null; } \
  || echo "install_browser: apt-get could not install ${want[*]}" >&2
