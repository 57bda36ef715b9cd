#!/usr/bin/env bash
# Starts a Space server on its embedded defaults (sled, loopback, a data directory it creates)
# with one polling and one listening agent, and walks through the main job with the `deploy`
# CLI: environments, a lifecycle, a project with steps and variables, a package upload, two
# releases and their comparison, and deployments through the lifecycle with live logs.
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
AGENT_PIDS=
cleanup() {
  for pid in $AGENT_PIDS $SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ deploy %s\n' "$*"; "$BIN/deploy" "$@"; }

step "starting space-server 'DevTest' (data in $DATA/space, logs in $DATA/space.log)"
"$BIN/space-server" --name DevTest --data-dir "$DATA/space" --listen 127.0.0.1:0 \
  --agent-listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  >"$DATA/space.out" 2>"$DATA/space.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q 'listening on' "$DATA/space.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/space.log"; exit 1; }
  sleep 0.1
done
cat "$DATA/space.out"
KEY=$(grep -o 'dk_[0-9a-f]*' "$DATA/space.out")
ADDR=$(grep 'listening on' "$DATA/space.out" | grep -o 'https://[0-9.:]*')
FP=$(grep -o 'sha256:[0-9a-f]*' "$DATA/space.out")
export DEPLOY_CONFIG="$DATA/deploy-config.toml"

step "a CLI context pins the server's certificate fingerprint"
run context add walkthrough --server "$ADDR" --api-key "$KEY" --fingerprint "$FP" --use
run whoami

step "environments and a lifecycle"
run env create Dev --description "developers' machines"
run env create Test --sort-order 2
run env create Production --sort-order 3
run lifecycle create Default --phase Dev:Dev --phase Test:Test:auto --phase Production:Production
run lifecycle show Default

step "two agents: web-01 polls the Space, db-01 listens; each trusts only this Space's certificate"
"$BIN/agent" --data-dir "$DATA/web-01" register --space "$ADDR" --api-key "$KEY" --space-fingerprint "$FP" \
  --name web-01 --env Dev --env Test --env Production --role web
"$BIN/agent" --data-dir "$DATA/web-01" run >"$DATA/web-01.out" 2>"$DATA/web-01.log" &
AGENT_PIDS="$AGENT_PIDS $!"
"$BIN/agent" --data-dir "$DATA/db-01" --mode listening --listen 127.0.0.1:0 --server-fingerprint "$FP" run \
  >"$DATA/db-01.out" 2>"$DATA/db-01.log" &
AGENT_PIDS="$AGENT_PIDS $!"
for _ in $(seq 1 300); do grep -q 'listening on' "$DATA/db-01.out" 2>/dev/null && break; sleep 0.1; done
DB_ADDR=$(grep -o 'https://[0-9.:]*' "$DATA/db-01.out")
DB_FP=$(grep -o 'sha256:[0-9a-f]*' "$DATA/db-01.out")
run target add db-01 --fingerprint "$DB_FP" --listening-address "$DB_ADDR" --env Dev --env Test --env Production --role db
for _ in $(seq 1 100); do "$BIN/deploy" target show web-01 -o json | grep -q '"connected": true' && break; sleep 0.1; done
run target list

step "a project, its process and variables"
run project create Acme.Web --lifecycle Default --description "the shop front"
PKG=$DATA/pkg
mkdir -p "$PKG"
printf 'url=#{Url}\ndb_password=#{DbPassword}\n' >"$PKG/app.conf"
printf '#!/bin/sh\necho "installed in $(pwd) for $Url"\necho "##deploy[setVariable name='"'"'Port'"'"' value='"'"'8080'"'"']"\n' >"$PKG/Deploy.sh"
chmod +x "$PKG/Deploy.sh"
tar czf "$DATA/Acme.Web.1.0.0.tar.gz" -C "$PKG" .
run package upload "$DATA/Acme.Web.1.0.0.tar.gz"
run step add --project Acme.Web --name "Deploy web" --package Acme.Web --substitute '*.conf' --role web
run step add --project Acme.Web --name "Migrate database" --role db \
  --script 'echo "migrating for #{Url} (web listens on port #{Output.Deploy web.Port}) with password #{DbPassword}"'
run variable set --project Acme.Web Url http://dev.acme.local --env Dev
run variable set --project Acme.Web Url http://test.acme.local --env Test
run variable set --project Acme.Web Url http://acme.example --env Production
printf 'correct-horse-battery-staple' | run variable set --project Acme.Web DbPassword --sensitive
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
printf 'another-secret' | run variable set --project Acme.Web DbPassword --sensitive --id v-4
run step add --project Acme.Web --name "Notify" --script 'echo released #{Release.Number}'
run release create --project Acme.Web --version 1.0.1 --notes "feature flag on"
run release list --project Acme.Web

step "compare the two releases side by side (sensitive values compared, never shown)"
run release compare --project Acme.Web 1.0.0 1.0.1
run package stats

step "deploy 1.0.0 to Dev (live log; the secret shows as ********); Test follows automatically"
run release deploy --project Acme.Web --version 1.0.0 --env Dev
for _ in $(seq 1 100); do "$BIN/deploy" deployment list --project Acme.Web -o json | grep -q '"environment": "Test"' && break; sleep 0.1; done
TEST_ID=$("$BIN/deploy" deployment list --project Acme.Web --env Test -o json | grep -o 'Deployments-[0-9]*' | head -1)
run deployment logs "$TEST_ID"

step "lifecycle progression: 1.0.1 cannot skip Dev"
run release deploy --project Acme.Web --version 1.0.1 --env Test || true
run release deploy --project Acme.Web --version 1.0.1 --env Dev

step "history and the dashboard"
run deployment list --project Acme.Web
run dashboard

step "done"
echo "The Space's data is in $DATA/space; start it again with:"
echo "  $BIN/space-server --name DevTest --data-dir $DATA/space --listen 127.0.0.1:8443"
echo "and use the CLI with DEPLOY_CONFIG=$DEPLOY_CONFIG (the context pins the certificate)."
