# Shared by the bench/ scripts: building, starting and stopping the reference server.
# Sourced, not run.

# The repository root.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Builds the release binaries unless REFERENCE_SERVER names one already built.
build_release() {
    if [[ -z "${REFERENCE_SERVER:-}" ]]; then
        (cd "$ROOT" && cargo build --release --locked -p reference-server -p token-conformance >&2)
        REFERENCE_SERVER="$ROOT/target/release/reference-server"
    fi
    REFERENCE_SERVER="$(realpath "$REFERENCE_SERVER")"
}

# start_server DB [ARGS...]: starts the reference server on a free loopback port with database
# DB, waits until it listens, and sets SERVER_PID and SERVER_URL.
start_server() {
    local db="$1"
    shift
    local log="$db.log"
    "$REFERENCE_SERVER" --listen 127.0.0.1:0 --db "$db" "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    SERVER_URL=""
    for _ in $(seq 1 200); do
        SERVER_URL="$(grep -o 'listening on http://[0-9.:]*' "$log" | head -n1 | cut -d' ' -f3 || true)"
        [[ -n "$SERVER_URL" ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the reference server did not start:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "the reference server did not listen within 10 s:" >&2
    cat "$log" >&2
    return 1
}

# Stops the server started last, if it still runs.
stop_server() {
    if [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
