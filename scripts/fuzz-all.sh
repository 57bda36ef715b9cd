#!/usr/bin/env bash
# Runs every cargo-fuzz target in turn for RUNS executions (default 10,000,000) or SECONDS
# seconds each (default 1800), whichever comes first, on one core at low priority, then
# minimises each corpus. Appends each run's final status line to fuzz/runs.log.
# Usage: [TIMEOUT=seconds per input, default 20] scripts/fuzz-all.sh [RUNS] [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${1:-10000000}
secs=${2:-1800}
shift 2 2>/dev/null || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$t"
  log="/tmp/fuzz-$t.log"
  start=$(date +%s)
  set +e
  RUSTC_BOOTSTRAP=1 nice -n 15 cargo fuzz run -O "$t" "corpus/$t" -- \
    -runs="$runs" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -timeout="${TIMEOUT:-20}" \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  echo "$(date -u +%FT%TZ) $t rc=$rc execs=$execs seconds=$took :: $last" | tee -a runs.log
  if [ "$rc" -ne 0 ]; then
    echo "fuzz target $t failed; see $log and fuzz/artifacts/$t" >&2
    tail -40 "$log" >&2
  fi
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin -O "$t" "corpus/$t" >/dev/null 2>&1 || true
done
