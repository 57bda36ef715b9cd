#!/usr/bin/env bash
# Connected Spaces: promotion latency (promote -> imported at the target, 1,000 variables and
# 10 pre-staged packages, vs a script importing by hand), receipt latency (deployment finished at
# the target -> applied at the source; p99 over RECEIPTS deployments, without and with 100 ms
# added each way on the peer link), and deployment time at the target with 200 ms added to the
# peer link's round trip vs none. One ODCM, DevTest and Prod, an agent in Prod, each Space's
# peer listener behind a latency proxy; all real release binaries, driven by the real CLI
# (tests/src/bin/bench-connected.rs). Times come from the servers' log timestamps (same clock)
# or the CLI's wall time.
#
# Run (non-interactively): bench/connected.sh
# Builds `cargo build --release --workspace` first (SKIP_BUILD=1 to skip). Knobs: PROMOTIONS=5,
# RECEIPTS=100, DEPLOYS=6. Prints a markdown table (also target/bench/connected/results.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/target/bench/connected}
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$ROOT" && cargo build --release --workspace --quiet)
mkdir -p "$OUT"
{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with changes)')"
  echo
  E2E_BIN_DIR=$ROOT/target/release "$ROOT/target/release/bench-connected"
  echo
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/results.md"
