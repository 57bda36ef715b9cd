#!/usr/bin/env bash
# Starts a Space server on its embedded defaults (sled, loopback, a data directory it creates)
# and walks through the main job with the `deploy` CLI: environments, a lifecycle, a project
# with steps and variables, a package upload, two releases and their comparison.
# Usage: scripts/walkthrough.sh [DATA_DIR]   (default ./walkthrough-data, recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${1:-./walkthrough-data}
echo "==> building (cargo build --workspace)"
cargo build --workspace --quiet
BIN=$PWD/target/debug
rm -rf "$DATA"
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)

SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ deploy %s\n' "$*"; "$BIN/deploy" "$@"; }

step "starting space-server 'DevTest' (data in $DATA/space, logs in $DATA/space.log)"
"$BIN/space-server" --name DevTest --data-dir "$DATA/space" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 >"$DATA/space.out" 2>"$DATA/space.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q 'listening on' "$DATA/space.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/space.log"; exit 1; }
  sleep 0.1
done
cat "$DATA/space.out"
KEY=$(grep -o 'dk_[0-9a-f]*' "$DATA/space.out")
ADDR=$(grep -o 'https://[0-9.:]*' "$DATA/space.out")
FP=$(grep -o 'sha256:[0-9a-f]*' "$DATA/space.out")
export DEPLOY_CONFIG="$DATA/deploy-config.toml"

step "a CLI context pins the server's certificate fingerprint"
run context add walkthrough --server "$ADDR" --api-key "$KEY" --fingerprint "$FP" --use
run whoami

step "environments and a lifecycle"
run env create Dev --description "developers' machines"
run env create Test --sort-order 2
run env create Production --sort-order 3
run lifecycle create Default --phase Dev:Dev:auto --phase Test:Test --phase Production:Production
run lifecycle show Default

step "a project, its process and variables"
run project create Acme.Web --lifecycle Default --description "the shop front"
PKG=$DATA/pkg
mkdir -p "$PKG"
printf 'url=#{Url}\ndb_password=#{DbPassword}\n' >"$PKG/app.conf"
printf '#!/bin/sh\necho deploying #{Release.Number}\n' >"$PKG/deploy.sh"
chmod +x "$PKG/deploy.sh"
tar czf "$DATA/Acme.Web.1.0.0.tar.gz" -C "$PKG" .
run package upload "$DATA/Acme.Web.1.0.0.tar.gz"
run step add --project Acme.Web --name "Deploy web" --package Acme.Web --substitute '*.conf' --role web
run step add --project Acme.Web --name "Smoke test" --script 'curl -fsS #{Url}/health' --env Test --env Production
run variable set --project Acme.Web Url http://dev.acme.local --env Dev
run variable set --project Acme.Web Url http://test.acme.local --env Test
printf 'correct-horse-battery-staple' | run variable set --project Acme.Web DbPassword --sensitive --env Production
run template set --project Acme.Web ApiUrl --label "Payments API" --mandatory --help-text "base URL of the payments API"
run variable list --project Acme.Web
run step list --project Acme.Web

step "release 1.0.0 freezes the process, the variables and the package version"
run release create --project Acme.Web --version 1.0.0 --notes "first release"

step "change things, upload package 1.0.1, release 1.0.1"
printf 'url=#{Url}\ndb_password=#{DbPassword}\nfeature=on\n' >"$PKG/app.conf"
tar czf "$DATA/Acme.Web.1.0.1.tar.gz" -C "$PKG" .
run package upload "$DATA/Acme.Web.1.0.1.tar.gz"
run variable set --project Acme.Web Url http://qa.acme.local --env Test --id v-2
printf 'another-secret' | run variable set --project Acme.Web DbPassword --sensitive --env Production --id v-3
run step add --project Acme.Web --name "Notify" --script 'echo released #{Release.Number}'
run release create --project Acme.Web --version 1.0.1 --notes "feature flag on"
run release list --project Acme.Web

step "compare the two releases side by side (sensitive values compared, never shown)"
run release compare --project Acme.Web 1.0.0 1.0.1
run package stats

step "done"
echo "The Space's data is in $DATA/space; start it again with:"
echo "  $BIN/space-server --name DevTest --data-dir $DATA/space --listen 127.0.0.1:8443"
echo "and use the CLI with DEPLOY_CONFIG=$DEPLOY_CONFIG (the context pins the certificate)."
