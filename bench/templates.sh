#!/usr/bin/env bash
# Templates: evaluating a 1 MiB configuration file with 10,000 references (plain, filtered,
# conditionals, a loop), cold and with the parse cached, side by side with Jinja2 on the same
# template in its syntax (pip install jinja2 if `python3 -c 'import jinja2'` fails; the row
# says SKIPPED otherwise) and envsubst (gettext-base) on the plain references.
#
# Run (non-interactively): bench/templates.sh
# Builds the release benchmark binary first (SKIP_BUILD=1 to skip). Prints a markdown table
# (also target/bench/templates/results.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/target/bench/templates}
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$ROOT" && cargo build --release -p e2e --bin bench-templates --quiet)
mkdir -p "$OUT"
{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with changes)')"
  echo
  "$ROOT/target/release/bench-templates"
  echo
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/results.md"
