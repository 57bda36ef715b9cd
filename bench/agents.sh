#!/usr/bin/env bash
# Many polling agents on one Space server: the server's memory per idle agent connection, and
# the time to run one deployment (a ~1 MiB package + a script step) on every agent.
#
# One `agent-sim` process holds all agent connections, each with its own certificate, data
# directory and the real agent session + step executor; the Space server is the real binary.
# For each N in $COUNTS (default "1000 10000"): a fresh Space, register N targets, connect
# them all, let the server settle, read its VmRSS (and the baseline before agents connected),
# then (for N <= $DEPLOY_MAX, default 1000) time `deploy release deploy` to all N agents with
# --max-parallel $PARALLEL (default N).
#
# Run (as root, non-interactively): bench/agents.sh   (SKIP_BUILD=1 to reuse target/release)
# Prints a markdown table (also $OUT/results.md, default target/bench/agents).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
COUNTS=${COUNTS:-"1000 10000"}
DEPLOY_MAX=${DEPLOY_MAX:-1000}
OUT=${OUT:-$ROOT/target/bench/agents}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"   # the hard limit here is 20000: enough for 10,000 agents

if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$ROOT" && cargo build --release --workspace --quiet)
fi

WORK=$(mktemp -d /var/tmp/agents-bench.XXXXXX)
SERVER_PID=
SIM_PID=
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

connected() {
  "$BIN/deploy" target list -o json --timeout 120 | python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin) if t["connected"]))'
}

RESULTS="$OUT/results.md"
{
  echo "| agents | server RSS before agents | server RSS with all connected | per agent | connect all | deploy to all (1 MiB package + script) |"
  echo "|---:|---:|---:|---:|---:|---:|"
} >"$RESULTS"

for N in $COUNTS; do
  D=$WORK/n$N
  mkdir -p "$D"
  "$BIN/space-server" --name Bench --data-dir "$D/space" --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 \
    --web-listen "" --agent-wait-secs 120 >"$D/space.out" 2>"$D/space.log" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do grep -q 'listening on' "$D/space.out" 2>/dev/null && break; sleep 0.1; done
  export DEPLOY_SERVER=$(grep 'listening on' "$D/space.out" | grep -o 'https://[0-9.:]*')
  export DEPLOY_API_KEY=$(grep -o 'dk_[0-9a-f]*' "$D/space.out")
  export DEPLOY_FINGERPRINT=$(grep -o 'sha256:[0-9a-f]*' "$D/space.out")
  export DEPLOY_CONFIG=$D/deploy.toml
  AGENTS=$(grep 'Agents connect' "$D/space.out" | grep -o 'https://[0-9.:]*')
  "$BIN/deploy" env create Sim >/dev/null 2>&1
  "$BIN/deploy" lifecycle create L --phase Sim:Sim >/dev/null 2>&1
  sleep 1
  BASE=$(rss_kib "$SERVER_PID")

  T0=$(date +%s.%N)
  "$BIN/agent-sim" --space "$DEPLOY_SERVER" --space-fingerprint "$DEPLOY_FINGERPRINT" \
    --agent-endpoint "$AGENTS" --agents "$N" --env Sim --data-dir "$D/agents" --concurrency 64 \
    >"$D/sim.out" 2>"$D/sim.log" &
  SIM_PID=$!
  while :; do
    c=$(connected 2>/dev/null || echo 0)
    [ "$c" -ge "$N" ] && break
    kill -0 "$SIM_PID" 2>/dev/null || { tail -5 "$D/sim.log"; exit 1; }
    sleep 1
  done
  T1=$(date +%s.%N)
  sleep 5
  RSS=$(rss_kib "$SERVER_PID")
  PER=$(( (RSS - BASE) / N ))
  CONNECT=$(python3 -c "print(f'{$T1 - $T0:.1f} s')")

  DEPLOY="-"
  if [ "$N" -le "$DEPLOY_MAX" ]; then
    python3 - "$D/pkg" <<'PY'
import os, sys, random
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
r = random.Random(42)
with open(os.path.join(d, "app.bin"), "wb") as f:
    f.write(bytes(r.getrandbits(8) for _ in range(1024 * 1024)))
with open(os.path.join(d, "app.conf"), "w") as f:
    f.write("machine=#{Machine.Name}\n")
PY
    tar czf "$D/Bench.App.1.0.0.tar.gz" -C "$D/pkg" .
    "$BIN/deploy" package upload "$D/Bench.App.1.0.0.tar.gz" >/dev/null 2>&1
    "$BIN/deploy" project create App --lifecycle L >/dev/null 2>&1
    "$BIN/deploy" step add --project App --name Install --package Bench.App --substitute '*.conf' >/dev/null 2>&1
    "$BIN/deploy" step add --project App --name Check --script 'echo "ok on #{Machine.Name}"' >/dev/null 2>&1
    "$BIN/deploy" release create --project App --version 1.0.0 >/dev/null 2>&1
    S0=$(date +%s.%N)
    "$BIN/deploy" release deploy --project App --version 1.0.0 --env Sim --max-parallel "${PARALLEL:-$N}" --timeout 600 >"$D/deploy.log" 2>&1
    S1=$(date +%s.%N)
    DEPLOY=$(python3 -c "print(f'{$S1 - $S0:.1f} s')")
  fi
  printf '| %s | %s MiB | %s MiB | %s KiB | %s | %s |\n' "$N" "$((BASE / 1024))" "$((RSS / 1024))" "$PER" "$CONNECT" "$DEPLOY" >>"$RESULTS"
  kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  cp "$D/deploy.log" "$OUT/deploy-$N.log" 2>/dev/null || true
  rm -rf "$D"
done
cat "$RESULTS"
