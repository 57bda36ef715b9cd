#!/usr/bin/env bash
# Walks through a disconnected release promotion on this machine, on the embedded defaults
# (sled, loopback ports picked by the system, one data directory it creates):
#   - two networks with no path between them, NetA and NetB, each with its own ODCM;
#   - Space DevTest enrolled in NetA, Space Prod enrolled in NetB, a polling agent for each;
#   - certificates, the release bundle, the package inventory and transfer archive, and the
#     deployment receipts travel as files, copied by hand through carried/ between the two
#     networks' data directories;
#   - DevTest deploys 1.0.0 to Dev and Test, promotes it to Prod; Prod imports it, fills the
#     mandatory template value it owns, deploys to Production (the secret masked in the log);
#     the receipt comes back and DevTest's dashboard shows "Prod: Production".
# Usage: scripts/walkthrough.sh [DATA_DIR]   (default ./walkthrough-data, recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${1:-./walkthrough-data}
echo "==> building (cargo build --workspace)"
cargo build --workspace --quiet
BIN=$PWD/target/debug
# Recreated each run, but only a directory this script made (or an empty one) is removed.
if [[ -d $DATA && -n $(ls -A "$DATA") && ! -e $DATA/.walkthrough && ! -e $DATA/deploy-config.toml ]]; then
  echo "error: $DATA exists and is not a walkthrough data directory; pass another one" >&2
  exit 1
fi
rm -rf "$DATA"
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
cd "$DATA" # every path below is relative to the data directory
touch .walkthrough

# Nothing from the caller's environment leaks in; the CLI config lives in the data directory.
for v in $(compgen -e); do
  case $v in SPACE_* | ODCM_* | AGENT_* | DEPLOY_*) unset "$v" ;; esac
done
export DEPLOY_CONFIG=$DATA/deploy-config.toml
SECRET='pr0d-s3cret-Pw'
started=$SECONDS

PIDS=() # in start order; stopped in reverse order
cleanup() {
  local status=$? i pid end
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    end=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((status != 0)); then
    echo "walkthrough failed (exit $status); the processes' logs are the *.log files under $DATA" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() {
  echo "error: $*" >&2
  exit 1
}
# Prints a command the way one would type it.
show() {
  local out='$' a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s\n' "$out"
}
# Polls a command until it succeeds, for at most $1 seconds.
wait_until() {
  local what=$1 limit=$2 end
  shift 2
  end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
# Waits until a process started in the background prints its "listening on" line.
wait_started() {
  local out=$1 pid=$2 log=$3 end=$((SECONDS + 30))
  until grep -q 'listening on' "$out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$out: the process exited"; }
    ((SECONDS < end)) || { cat "$log" >&2; die "$out: not started after 30s"; }
    sleep 0.1
  done
}
listen_addr() { grep 'listening on' "$1" | grep -o 'https://[0-9.:]*' | head -1; }
listen_fp() { grep 'listening on' "$1" | grep -o 'sha256:[0-9a-f]*' | head -1; }
admin_key() { grep -o 'dk_[0-9a-f]*' "$1" | head -1; }

# The deploy CLI: one context per Space; `deploy odcm` takes its ODCM from the environment.
dt() { show deploy --context devtest "$@"; "$BIN/deploy" --context devtest "$@"; }
pr() { show deploy --context prod "$@"; "$BIN/deploy" --context prod "$@"; }
odcm_env() { # NAME -> ODCM_SERVER, ODCM_FINGERPRINT, ODCM_API_KEY of that ODCM
  local out=$1/odcm.out
  echo "ODCM_SERVER=$(listen_addr "$out") ODCM_FINGERPRINT=$(listen_fp "$out") ODCM_API_KEY=$(admin_key "$out")"
}
neta() { printf '[NetA admin] '; show deploy odcm "$@"; neta_q "$@"; }
netb() { printf '[NetB admin] '; show deploy odcm "$@"; netb_q "$@"; }
neta_q() { env $NETA_ENV "$BIN/deploy" odcm "$@"; }
netb_q() { env $NETB_ENV "$BIN/deploy" odcm "$@"; }
# Expects a refusal whose message contains $1: prints it; anything else fails the walkthrough.
refused() {
  local want=$1 err
  shift
  if err=$("$@" 2>&1); then die "this should have been refused"; fi
  printf '%s\n' "$err" | sed 's/^/    /'
  [[ $err == *"$want"* ]] || die "refused, but not with '$want'"
  echo "    (refused, as expected)"
}
# Carries a file from one network's data directory to the other's, through carried/.
carry() {
  show cp "$1" carried/
  cp "$1" carried/
  echo "    carried by hand (a USB stick in real life): there is no network path between NetA and NetB"
}

step "one data directory, $DATA"
mkdir -p NetA/outbox NetB/outbox carried
echo "NetA/     network A: its ODCM, Space DevTest, DevTest's agent, outbox/ for files leaving"
echo "NetB/     network B: its ODCM, Space Prod, Prod's agent, outbox/ for files leaving"
echo "carried/  what crosses between the two networks: files copied by hand, nothing else"

step "two networks, one ODCM each: NetA and NetB"
for net in NetA NetB; do
  "$BIN/odcm" --name "$net" --data-dir "$net/odcm" --listen 127.0.0.1:0 --web-listen 127.0.0.1:0 \
    </dev/null >"$net/odcm.out" 2>"$net/odcm.log" &
  PIDS+=($!)
  show odcm --name "$net" --data-dir "$net/odcm" --listen 127.0.0.1:0 --web-listen 127.0.0.1:0
  wait_started "$net/odcm.out" "$!" "$net/odcm.log"
  sed 's/^/    /' "$net/odcm.out"
done
NETA_ENV=$(odcm_env NetA)
NETB_ENV=$(odcm_env NetB)
echo "deploy odcm reads an ODCM's address, certificate fingerprint and admin key (printed above)"
echo "from ODCM_SERVER, ODCM_FINGERPRINT and ODCM_API_KEY: the lines marked [NetA admin] run"
echo "with NetA's values in the environment, those marked [NetB admin] with NetB's."
neta info

step "Space DevTest enrolled in NetA, Space Prod enrolled in NetB (one-time tokens, by environment)"
start_space() { # NET SPACE TOKEN
  local net=$1 name=$2 dir=$1/$2
  local out=$1/odcm.out
  show space-server --name "$name" --data-dir "$dir" --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 \
    --peer-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --web-listen 127.0.0.1:0 --odcm-url "$(listen_addr "$out")" \
    --odcm-fingerprint "$(listen_fp "$out")"
  echo "    (with SPACE_ENROLMENT_TOKEN=et_... in its environment)"
  SPACE_ENROLMENT_TOKEN=$3 "$BIN/space-server" --name "$name" --data-dir "$dir" \
    --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --web-listen 127.0.0.1:0 --odcm-url "$(listen_addr "$out")" \
    --odcm-fingerprint "$(listen_fp "$out")" </dev/null >"$dir.out" 2>"$dir.log" &
  PIDS+=($!)
  wait_started "$dir.out" "$!" "$dir.log"
  sed 's/^/    /' "$dir.out"
}
printf '[NetA admin] '; show deploy odcm space create DevTest
TOKEN=$(neta_q space create DevTest)
echo "    et_... (kept in a shell variable for the server's environment)"
start_space NetA DevTest "$TOKEN"
printf '[NetB admin] '; show deploy odcm space create Prod
TOKEN=$(netb_q space create Prod)
echo "    et_... (kept in a shell variable for the server's environment)"
start_space NetB Prod "$TOKEN"
unset TOKEN

step "one CLI context per Space, each pinning its Space's certificate fingerprint"
show deploy context add devtest --server "$(listen_addr NetA/DevTest.out)" --api-key dk_... \
  --fingerprint "$(listen_fp NetA/DevTest.out)"
"$BIN/deploy" context add devtest --server "$(listen_addr NetA/DevTest.out)" \
  --api-key "$(admin_key NetA/DevTest.out)" --fingerprint "$(listen_fp NetA/DevTest.out)"
show deploy context add prod --server "$(listen_addr NetB/Prod.out)" --api-key dk_... \
  --fingerprint "$(listen_fp NetB/Prod.out)"
"$BIN/deploy" context add prod --server "$(listen_addr NetB/Prod.out)" \
  --api-key "$(admin_key NetB/Prod.out)" --fingerprint "$(listen_fp NetB/Prod.out)"
dt whoami
pr whoami

step "certificates exchanged by file; no endpoints: the Spaces cannot reach each other"
neta space export-cert DevTest --out NetA/outbox/devtest.pem
netb space export-cert Prod --out NetB/outbox/prod.pem
carry NetA/outbox/devtest.pem
carry NetB/outbox/prod.pem
neta remote-space add Prod --cert carried/prod.pem
netb remote-space add DevTest --cert carried/devtest.pem

step "trusts: Prod accepts releases from DevTest (NetB), DevTest accepts receipts from Prod (NetA)"
netb trust add --from DevTest --to Prod --kind releases
neta trust add --from DevTest --to Prod --kind receipts
has_peer() { "$BIN/deploy" --context "$1" space status -o json | grep -q "\"name\": \"$2\""; }
wait_until "Prod in DevTest's trust set" 15 has_peer devtest Prod
wait_until "DevTest in Prod's trust set" 15 has_peer prod DevTest
dt space status
pr space status

step "DevTest: Dev, Test, the remote environment 'Prod: Production', a lifecycle through them"
dt env create Dev --description "for developers" --sort-order 1
dt env create Test --sort-order 2
dt env add-remote --space Prod --name Production --sort-order 3
dt lifecycle create Main --phase Dev:Dev --phase Test:Test:auto --phase 'Production:Prod: Production'
dt lifecycle show Main

step "DevTest: project Web, a package step and a script step that runs only in 'Prod: Production'"
dt project create Web --lifecycle Main --description "the shop front"
mkdir -p NetA/pkg
printf 'url=#{Url}\nregion=#{Region}\n' >NetA/pkg/app.conf
printf '#!/bin/sh\necho "installed in $(pwd):"\ncat app.conf\n' >NetA/pkg/Deploy.sh
chmod +x NetA/pkg/Deploy.sh
tar czf NetA/Acme.Web.1.0.0.tar.gz -C NetA/pkg .
dt package upload NetA/Acme.Web.1.0.0.tar.gz
dt step add --project Web --name Install --package Acme.Web --substitute '*.conf'
dt step add --project Web --name Verify --env 'Prod: Production' \
  --script 'echo "checking #{Url} in #{Region} with password #{DbPassword}"'
dt step list --project Web

step "DevTest: variables (a sensitive one for 'Prod: Production') and a template Prod must fill"
dt variable set --project Web Url http://test.acme.local --env Dev --env Test
dt variable set --project Web Url https://www.acme.example --env 'Prod: Production'
echo "\$ printf %s \"\$SECRET\" | deploy --context devtest variable set --project Web DbPassword --sensitive --env 'Prod: Production'"
echo "    (the value comes from stdin: never on a command line, never printed back)"
printf '%s' "$SECRET" | "$BIN/deploy" --context devtest variable set --project Web DbPassword \
  --sensitive --env 'Prod: Production'
dt template set --project Web Region --label "Cloud region" --mandatory \
  --help-text "where the shop runs; each Space sets its own"
dt variable set --project Web Region eu-test --env Dev --env Test
dt variable list --project Web

step "Prod: its own environment and lifecycle (it owns Production; DevTest only points at it)"
pr env create Production
pr lifecycle create ProdLife --phase Production:Production

step "agents: dev-web polls DevTest (Dev, Test), prod-web polls Prod (Production)"
start_agent() { # CONTEXT-OUT-FILE AGENT-DIR NAME ENV...
  local out=$1 dir=$2 name=$3
  shift 3
  local envs=()
  for e in "$@"; do envs+=(--env "$e"); done
  show agent --data-dir "$dir" register --space "$(listen_addr "$out")" --api-key dk_... \
    --space-fingerprint "$(listen_fp "$out")" --name "$name" "${envs[@]}"
  "$BIN/agent" --data-dir "$dir" register --space "$(listen_addr "$out")" \
    --api-key "$(admin_key "$out")" --space-fingerprint "$(listen_fp "$out")" \
    --name "$name" "${envs[@]}"
  show agent --data-dir "$dir" run
  "$BIN/agent" --data-dir "$dir" run </dev/null >"$dir.out" 2>"$dir.log" &
  PIDS+=($!)
}
connected() { "$BIN/deploy" --context "$1" target show "$2" -o json | grep -q '"connected": true'; }
start_agent NetA/DevTest.out NetA/agent-dev-web dev-web Dev Test
start_agent NetB/Prod.out NetB/agent-prod-web prod-web Production
wait_until "dev-web to connect" 20 connected devtest dev-web
dt target list

step "release 1.0.0 freezes the process, the variables and the package version"
dt release create --project Web --version 1.0.0 --notes "first release"
echo "Promoting before Dev and Test are done is refused:"
refused "cannot be promoted" dt release promote --project Web --version 1.0.0 --to-space Prod --out NetA/outbox/early.bundle.json
[[ ! -e NetA/outbox/early.bundle.json ]] || die "a refused promotion wrote a file"

step "deploy 1.0.0 to Dev (live log); Test is an automatic phase and follows by itself"
dt release deploy --project Web --version 1.0.0 --env Dev
test_started() { "$BIN/deploy" --context devtest deployment list --project Web --env Test -o json | grep -q Deployments-; }
wait_until "the automatic deployment to Test" 20 test_started
TEST_ID=$("$BIN/deploy" --context devtest deployment list --project Web --env Test -o json |
  grep -o 'Deployments-[0-9]*' | head -1)
dt deployment logs "$TEST_ID"
dt deployment list --project Web

step "promote 1.0.0 to Prod: a signed bundle file (the secret encrypted for Prod, no package bytes)"
dt release promote --project Web --version 1.0.0 --to-space Prod --out NetA/outbox/web-1.0.0.bundle.json
if grep -q "$SECRET" NetA/outbox/web-1.0.0.bundle.json; then die "the secret is in the bundle"; fi
echo "    (the secret does not appear in the file)"

step "Prod: the inventory of the package chunks it holds (none yet) goes to DevTest"
wait_until "prod-web to connect" 20 connected prod prod-web
pr target list
pr package inventory --out NetB/outbox/prod.inventory
carry NetB/outbox/prod.inventory

step "DevTest: a transfer archive with the chunks Prod lacks; the bundle and archive go to Prod"
dt package export --bundle NetA/outbox/web-1.0.0.bundle.json --inventory carried/prod.inventory \
  --out NetA/outbox/web-1.0.0.xfer
carry NetA/outbox/web-1.0.0.bundle.json
carry NetA/outbox/web-1.0.0.xfer

step "Prod: add the bundle (verified: signed by DevTest, which Prod trusts for releases), show it"
pr bundle add carried/web-1.0.0.bundle.json
pr bundle list
BUNDLE=$("$BIN/deploy" --context prod bundle list -o json | grep -o '"id": "[^"]*"' | head -1 | cut -d'"' -f4)
pr bundle show "$BUNDLE"

step "Prod: import the packages, then the bundle: Remote Project 'DevTest: Web', release 1.0.0"
pr package import carried/web-1.0.0.xfer
pr bundle import "$BUNDLE"
pr release missing-variables --project 'DevTest: Web' --version 1.0.0

step "Prod fills the mandatory template value it owns, and deploys on its own agent"
pr variable set --project 'DevTest: Web' Region eu-west-1 --env Production
pr release deploy --project 'DevTest: Web' --version 1.0.0 --env Production | tee NetB/deploy.out
if grep -q "$SECRET" NetB/deploy.out; then die "the secret shows in the log"; fi
grep -q '\*\*\*\*\*\*\*\*' NetB/deploy.out || die "the masked secret is not in the log"
echo "    (the secret shows as ******** in the log)"

step "the result goes back: Prod exports its signed receipt, DevTest imports it"
pr receipt export --out NetB/outbox/receipts.json
carry NetB/outbox/receipts.json
dt receipt import carried/receipts.json
for f in carried/*; do
  if grep -q "$SECRET" "$f"; then die "the secret is in $f"; fi
done
echo "    (none of the files that crossed holds the secret in the clear)"

step "DevTest's dashboard: Dev and Test deployed here, 'Prod: Production' from Prod's receipt"
cell=$("$BIN/deploy" --context devtest dashboard -o json | sed -n '/"Prod: Production": {/,/}/p')
val() { printf '%s\n' "$cell" | grep "\"$1\":" | cut -d'"' -f4; }
[[ $(val version) == 1.0.0 && $(val state) == success && -n $(val receipt_received_at) ]] ||
  die "DevTest's dashboard does not show Prod's result: $cell"
echo "Finished in $((SECONDS - started))s after the build. Data, logs (*.log) and the CLI contexts"
echo "'devtest' and 'prod' (DEPLOY_CONFIG=$DEPLOY_CONFIG) stay in $DATA;"
echo "the processes stop when the script exits."
dt dashboard
echo "=> Prod: Production  $(val version) $(val state) (receipt $(val receipt_received_at)): deployed in Prod, reported back by file"
echo "While this ran, each Space also served this dashboard in a browser (DevTest's web UI was"
echo "$(grep '^Web UI:' NetA/DevTest.out | grep -o 'https://[0-9.:]*'); see the README's \"The web UI\")."
