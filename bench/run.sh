#!/bin/sh
# The load engine's own benchmark: raw request rate against wrk on the same loopback
# endpoint (and oha, when installed), and memory per idle sync-looping user at 1000 users. Needs wrk
# (apt-get install wrk) and/or oha (cargo install oha). Not part of `cargo test`.
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    echo "note: wrk is not installed (apt-get install wrk); the rate ratio will be missing" >&2
fi
# 10,000 lurkers need 10,000 sockets: take the hard limit (the harness raises it itself too)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec cargo bench --bench harness "$@"
