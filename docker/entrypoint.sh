#!/bin/sh
# Container entrypoint. `serve` (the default command) prepares the admin key, applies the database
# migrations, then hands the process over to uvicorn; anything else runs as given
# (e.g. `docker compose run api facematch import ...`).
set -eu

ensure_admin_key() {
    # No built-in default key: when none is configured, generate one on first start and keep it in
    # the data volume (0600) so restarts keep the same key. Same file and format as
    # `facematch serve` (app/cli/serve.py), so a data directory moves between the two.
    if [ -n "${FACEMATCH_ADMIN_API_KEY:-}" ]; then
        return
    fi
    key_file="${FACEMATCH_DATA_DIR:-/data}/admin_api_key"
    if [ ! -s "$key_file" ]; then
        # Replicas (`--scale api=N`) share the volume and may start together: write a whole key
        # to a private file, then link it into place; `ln` fails when another replica won, and
        # everyone reads the winner's key, never a half-written one.
        tmp="$key_file.$$"
        (umask 077 && python -c "import secrets; print('fm_admin_' + secrets.token_urlsafe(32))" > "$tmp")
        if ln "$tmp" "$key_file" 2>/dev/null; then
            echo "facematch: generated an admin API key in $key_file (read it with:" \
                 "docker compose exec api cat $key_file)" >&2
        fi
        rm -f "$tmp"
    fi
    FACEMATCH_ADMIN_API_KEY=$(cat "$key_file")
    export FACEMATCH_ADMIN_API_KEY
}

if [ "${1:-serve}" = "serve" ]; then
    [ "$#" -gt 0 ] && shift
    ensure_admin_key
    facematch migrate
    # Host, port, workers... come from UVICORN_* variables (see docker/.env.example). The app logs
    # each request itself as a JSON line with its request id, so uvicorn's plain access log is off.
    exec uvicorn app.main:app --proxy-headers --no-access-log "$@"
fi
exec "$@"
