#!/usr/bin/env bash
# Prove the image and the compose deployment by running them (tests/deploy/test_smoke.py runs this
# when a Docker daemon answers):
#   build the image; start PostgreSQL (pgvector), two api replicas and the HAProxy load balancer
#   with the values of docker/docker-compose.yml + docker-compose.pgvector.yml; wait until every
#   container's healthcheck says healthy; enroll through one replica, identify through the other
#   and through the load balancer; check the api runs as non-root; restart everything and find
#   the data again; tear down.
#
# Compose v2 is not installable on the machines this was written on, so the services run with
# `docker run --network host` (the daemon there has no bridge): every replica and the database get
# a free port of their own instead of compose's service DNS, and the load balancer's server list is
# those ports instead of the DNS-driven `server-template` line. Everything else (images,
# environment, commands, healthchecks, volumes, the HAProxy config) comes from the compose files.
#
# Usage: docker/smoke.sh            (needs docker, curl and a python with PyYAML: .venv/bin/python)
# Environment:
#   SMOKE_STANDIN=1         build stand-in base images from Debian packages first (no registry):
#                           docker/standin/build.sh; implies the image overrides below
#   SMOKE_PYTHON_IMAGE / SMOKE_POSTGRES_IMAGE / SMOKE_LB_IMAGE   override the images used
#   SMOKE_BUILD_ARGS        extra `docker build` arguments (e.g. --build-arg PIP_INDEX_URL=...)
#   SMOKE_KEEP=1            leave containers and volumes up for inspection
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
# The Dockerfile needs BuildKit (COPY --chmod): a CLI with buildx, or one whose builder is BuildKit
# (e.g. DOCKER=/usr/bin/docker from Debian's docker.io, with DOCKER_BUILDKIT=1).
DOCKER=${DOCKER:-docker}
export DOCKER DOCKER_BUILDKIT=1
run_id=smoke-$$
image=facematch:$run_id
log() { printf '%s smoke: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

"$DOCKER" info >/dev/null 2>&1 || fail "no Docker daemon answers"

if [ "${SMOKE_STANDIN:-0}" = 1 ]; then
  docker/standin/build.sh
  : "${SMOKE_PYTHON_IMAGE:=facematch-standin/debian:bookworm}"
  : "${SMOKE_POSTGRES_IMAGE:=facematch-standin/pgvector:pg18}"
  : "${SMOKE_LB_IMAGE:=facematch-standin/haproxy:bookworm}"
fi

# --- the compose files' values ------------------------------------------------------------------
eval "$("$PYTHON" - <<'PY'
import shlex
import yaml

base = yaml.safe_load(open("docker/docker-compose.yml"))["services"]
override = yaml.safe_load(open("docker/docker-compose.pgvector.yml"))["services"]
pg = {**base["postgres"], **override["postgres"]}
api_env = {**base["api"]["environment"], **override["api"]["environment"]}
values = {
    "PG_IMAGE": pg["image"],
    "PG_USER": pg["environment"]["POSTGRES_USER"],
    "PG_DB": pg["environment"]["POSTGRES_DB"],
    "PG_HEALTH": pg["healthcheck"]["test"][1],
    "API_COMMAND": " ".join(base["api"]["command"]),
    "API_DATA": base["api"]["volumes"][0].split(":", 1)[1],
    "API_INDEX_BACKEND": api_env["FACEMATCH_INDEX_BACKEND"],
    "API_FORWARDED": api_env["UVICORN_FORWARDED_ALLOW_IPS"],
    "LB_IMAGE": base["lb"]["image"],
    "LB_CONFIG": base["lb"]["volumes"][0].split(":")[1],
    # CMD form: as one shell command line, since `docker run --health-cmd` goes through /bin/sh.
    "LB_HEALTH": shlex.join(base["lb"]["healthcheck"]["test"][1:]),
}
for name, value in values.items():
    print(f"{name}={shlex.quote(str(value))}")
PY
)"
PG_IMAGE=${SMOKE_POSTGRES_IMAGE:-$PG_IMAGE}
LB_IMAGE=${SMOKE_LB_IMAGE:-$LB_IMAGE}
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port=$(free_port); api1_port=$(free_port); api2_port=$(free_port); lb_port=$(free_port)
password=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))')
pg_volume=$run_id-pg-data
api_volume=$run_id-api-data
workdir=$(mktemp -d)
containers=("$run_id-postgres" "$run_id-api-1" "$run_id-api-2" "$run_id-lb")

teardown() {
  status=$?
  if [ "$status" != 0 ]; then
    for c in "${containers[@]}"; do
      "$DOCKER" inspect "$c" >/dev/null 2>&1 || continue
      "$DOCKER" logs --tail 40 "$c" 2>&1 | sed "s/^/  [$c] /" >&2 || true
    done
  fi
  if [ "${SMOKE_KEEP:-0}" != 1 ]; then
    log "tearing down"
    "$DOCKER" rm -f "${containers[@]}" >/dev/null 2>&1 || true
    "$DOCKER" volume rm "$pg_volume" "$api_volume" >/dev/null 2>&1 || true
    "$DOCKER" image rm "$image" >/dev/null 2>&1 || true
  fi
  rm -rf "$workdir"
  exit "$status"
}
trap teardown EXIT

# --- build ----------------------------------------------------------------------------------------
log "building $image (docker/Dockerfile)"
build_args=()
[ -n "${SMOKE_PYTHON_IMAGE:-}" ] && build_args+=(--build-arg "PYTHON_IMAGE=$SMOKE_PYTHON_IMAGE")
# shellcheck disable=SC2206  # deliberately split: a list of arguments
build_args+=(${SMOKE_BUILD_ARGS:-})
build_start=$SECONDS
"$DOCKER" build --network host -q -f docker/Dockerfile "${build_args[@]}" -t "$image" . >/dev/null
log "built in $((SECONDS - build_start)) s"

# --- run ------------------------------------------------------------------------------------------
start_postgres() {
  # PGPORT moves both the server and pg_isready (the compose healthcheck) to the free port.
  "$DOCKER" run -d --name "$run_id-postgres" --network host \
    -e POSTGRES_USER="$PG_USER" -e POSTGRES_DB="$PG_DB" -e POSTGRES_PASSWORD="$password" \
    -e PGPORT="$pg_port" -v "$pg_volume:/var/lib/postgresql/data" \
    --health-cmd "$PG_HEALTH" --health-interval 2s --health-retries 30 \
    "$PG_IMAGE" postgres -c listen_addresses=127.0.0.1 >/dev/null
}

start_api() {  # name port
  # The image's own HEALTHCHECK (it follows UVICORN_PORT) is the one checked here.
  "$DOCKER" run -d --name "$1" --network host \
    -e FACEMATCH_DATABASE_URL="postgresql+psycopg://$PG_USER:$password@127.0.0.1:$pg_port/$PG_DB" \
    -e FACEMATCH_INDEX_BACKEND="$API_INDEX_BACKEND" \
    -e UVICORN_FORWARDED_ALLOW_IPS="$API_FORWARDED" \
    -e UVICORN_HOST=127.0.0.1 -e UVICORN_PORT="$2" \
    -v "$api_volume:$API_DATA" "$image" "$API_COMMAND" >/dev/null
}

start_lb() {
  # docker/haproxy.cfg with the DNS-driven server line replaced by the two replicas' ports.
  sed -e "s/^\(\s*\)server-template .*/\1server api-1 127.0.0.1:$api1_port check\n\1server api-2 127.0.0.1:$api2_port check/" \
      -e "s/^\(\s*\)bind :8000/\1bind 127.0.0.1:$lb_port/" docker/haproxy.cfg > "$workdir/haproxy.cfg"
  chmod 0644 "$workdir/haproxy.cfg"
  "$DOCKER" run -d --name "$run_id-lb" --network host -v "$workdir/haproxy.cfg:$LB_CONFIG:ro" \
    --health-cmd "${LB_HEALTH//8000/$lb_port}" --health-interval 2s --health-retries 30 \
    "$LB_IMAGE" >/dev/null
}

wait_healthy() {  # container..., up to 240 s each (the api's start period is 60 s)
  for c in "$@"; do
    deadline=$((SECONDS + 240))
    while [ "$SECONDS" -lt "$deadline" ]; do
      state=$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Running}}' "$c")
      [ "${state% *}" = healthy ] && break
      [ "${state#* }" = true ] || fail "$c exited"
      sleep 1
    done
    state=${state% *}
    [ "$state" = healthy ] || fail "$c is $state after 240 s"
    log "$c: healthy"
  done
}

log "postgres ($PG_IMAGE) on :$pg_port, api replicas on :$api1_port and :$api2_port, lb ($LB_IMAGE) on :$lb_port"
start_postgres
wait_healthy "$run_id-postgres"
start=$SECONDS
start_api "$run_id-api-1" "$api1_port"
start_api "$run_id-api-2" "$api2_port"
wait_healthy "$run_id-api-1" "$run_id-api-2"
log "both replicas healthy $((SECONDS - start)) s after start"
start_lb
wait_healthy "$run_id-lb"

# --- checks ---------------------------------------------------------------------------------------
uid=$("$DOCKER" exec "$run_id-api-1" id -u)
[ "$uid" != 0 ] || fail "the api runs as root"
log "api runs as uid $uid ($("$DOCKER" exec "$run_id-api-1" id -un)), not root"
key=$("$DOCKER" exec "$run_id-api-1" cat "$API_DATA/admin_api_key")
[ "$key" = "$("$DOCKER" exec "$run_id-api-2" cat "$API_DATA/admin_api_key")" ] || fail "replicas disagree on the admin key"

api() {  # port method path [curl args...]: prints the body, fails on a non-2xx status
  local port=$1 method=$2 path=$3
  shift 3
  curl -sS --fail-with-body -X "$method" -H "X-API-Key: $key" "http://127.0.0.1:$port$path" "$@"
}
json() { "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)$1)"; }

ready=$(curl -sS "http://127.0.0.1:$api2_port/readyz")
log "replica 2 /readyz: $ready"
cid=$(api "$api1_port" POST /v1/collections -H 'Content-Type: application/json' \
  -d "{\"name\": \"$run_id\"}" | json "['id']")
iid=$(api "$api1_port" POST "/v1/collections/$cid/identities" -H 'Content-Type: application/json' \
  -d '{"external_id": "biden", "display_name": "Joe Biden"}' | json "['id']")
enrolled=$(api "$api1_port" POST "/v1/collections/$cid/identities/$iid/faces" \
  -F "image=@tests/fixtures/photos/biden/biden.jpg" | json "['faces'][0]['id']")
log "enrolled face $enrolled through replica 1"

match() {  # port → "external_id similarity" of the best match for another photo of the person
  api "$1" POST "/v1/collections/$cid/identify" -F "image=@tests/fixtures/photos/biden/biden2.jpg" \
    | "$PYTHON" -c "import json, sys; m = json.load(sys.stdin)['faces'][0]['match']; print(m['external_id'] if m else 'none', m and round(m['similarity'], 4))"
}
got=$(match "$api2_port")
log "identify through replica 2: $got"
[ "${got%% *}" = biden ] || fail "replica 2 did not find the face enrolled through replica 1"
got=$(match "$lb_port")
log "identify through the load balancer: $got"
[ "${got%% *}" = biden ] || fail "the load balancer did not find it"

# --- restart everything, find the data ------------------------------------------------------------
log "restarting postgres, both replicas and the load balancer"
"$DOCKER" restart "${containers[@]}" >/dev/null
wait_healthy "${containers[@]}"
got=$(match "$lb_port")
log "after the restart, identify through the load balancer: $got"
[ "${got%% *}" = biden ] || fail "the enrolled face is gone after a restart"
[ "$("$DOCKER" exec "$run_id-api-2" cat "$API_DATA/admin_api_key")" = "$key" ] || fail "admin key changed"

log "PASS: image built, 2 replicas + load balancer + PostgreSQL healthy, cross-replica enroll/identify, non-root, data survives a restart"
