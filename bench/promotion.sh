#!/usr/bin/env bash
# Promotion by file: bundle and archive sizes and times, side by side with rsync in one run.
#
# Two ODCMs, Spaces DevTest (NetA) and Prod (NetB) enrolled, certificates exchanged by file, the
# release binaries (target/release). Two parts:
#  A. A release with 10,000 variables (1,000 sensitive, imported with `deploy variable import`)
#     and 10 packages (2 MiB each): `release promote` time and bundle size, `bundle add` and
#     `bundle import` time in Prod (three releases, medians), and the full transfer archive's
#     export/import time and size.
#  B. A 1% scattered change of a 256 MiB package: base.bin and v-scatter.bin from
#     /work/shared/bench/gen-artifacts.py (100 regions of ~26 KiB replaced), each packed as a
#     .tar.gz with `gzip -6 --rsyncable` (so a change stays local in the archive, for every
#     tool); Prod holds 1.0.0, the archive for 1.0.1 made with Prod's inventory is measured
#     against `rsync --stats` (and `rsync -z`) updating the same old .tar.gz to the new one,
#     and against rsync on the raw .bin files.
#
# Run (as root, non-interactively): bench/promotion.sh
# Needs python3, rsync, gzip (apt-get install -y rsync). Runs `cargo build --release --workspace`
# first (SKIP_BUILD=1 to skip). Knobs: SEED=20261123, BENCH_CACHE (default
# /var/tmp/space-bench-cache), OUT (default target/bench/promotion). Prints a markdown table
# (also $OUT/results.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
SEED=${SEED:-20261123}
CACHE=${BENCH_CACHE:-/var/tmp/space-bench-cache}
OUT=${OUT:-$ROOT/target/bench/promotion}
GEN=${GEN_ARTIFACTS:-/work/shared/bench/gen-artifacts.py}
for t in python3 rsync gzip; do
  command -v "$t" >/dev/null || { echo "missing tool: $t (apt-get install -y rsync python3 gzip)" >&2; exit 1; }
done
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$ROOT" && cargo build --release --workspace --quiet)
mkdir -p "$OUT" "$CACHE"
W=$(mktemp -d /var/tmp/promotion-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
export DEPLOY_CONFIG=$W/deploy-config.toml
cd "$W"

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
size() { stat -c %s "$1"; }
wait_started() {
  local out=$1 end=$((SECONDS + 60))
  until grep -q 'listening on' "$out" 2>/dev/null; do
    ((SECONDS < end)) || { echo "$out: not started" >&2; exit 1; }
    sleep 0.1
  done
}
addr() { grep 'listening on' "$1" | grep -o 'https://[0-9.:]*' | head -1; }
fp() { grep 'listening on' "$1" | grep -o 'sha256:[0-9a-f]*' | head -1; }
key() { grep -o 'dk_[0-9a-f]*' "$1" | head -1; }
odcm_q() { local n=$1; shift; ODCM_SERVER=$(addr "$n/odcm.out") ODCM_FINGERPRINT=$(fp "$n/odcm.out") \
  ODCM_API_KEY=$(key "$n/odcm.out") "$BIN/deploy" odcm "$@"; }
dt() { "$BIN/deploy" --context devtest --timeout 600 "$@"; }
pr() { "$BIN/deploy" --context prod --timeout 600 "$@"; }

echo "==> two ODCMs, DevTest and Prod enrolled (work dir $W)"
for n in NetA NetB; do
  mkdir -p "$n"
  "$BIN/odcm" --name "$n" --data-dir "$n/odcm" --listen 127.0.0.1:0 --web-listen "" </dev/null >"$n/odcm.out" 2>"$n/odcm.log" &
  PIDS+=($!)
  wait_started "$n/odcm.out"
done
for pair in NetA:DevTest:devtest NetB:Prod:prod; do
  IFS=: read -r n s ctx <<<"$pair"
  token=$(odcm_q "$n" space create "$s")
  SPACE_ENROLMENT_TOKEN=$token RUST_LOG=warn "$BIN/space-server" --name "$s" --data-dir "$n/$s" \
    --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --web-listen "" \
    --odcm-url "$(addr "$n/odcm.out")" --odcm-fingerprint "$(fp "$n/odcm.out")" \
    </dev/null >"$n/$s.out" 2>"$n/$s.log" &
  PIDS+=($!)
  wait_started "$n/$s.out"
  "$BIN/deploy" context add "$ctx" --server "$(addr "$n/$s.out")" --api-key "$(key "$n/$s.out")" \
    --fingerprint "$(fp "$n/$s.out")" >/dev/null 2>&1
done
odcm_q NetA space export-cert DevTest --out devtest.pem >/dev/null
odcm_q NetB space export-cert Prod --out prod.pem >/dev/null
odcm_q NetA remote-space add Prod --cert prod.pem >/dev/null
odcm_q NetB remote-space add DevTest --cert devtest.pem >/dev/null
odcm_q NetB trust add --from DevTest --to Prod --kind releases >/dev/null
odcm_q NetA trust add --from DevTest --to Prod --kind receipts >/dev/null
for pair in devtest:Prod prod:DevTest; do
  IFS=: read -r ctx peer <<<"$pair"
  end=$((SECONDS + 30))
  until "$BIN/deploy" --context "$ctx" space status -o json | grep -q "\"name\": \"$peer\""; do
    ((SECONDS < end)) || { echo "$peer never reached the trust set of $ctx" >&2; exit 1; }
    sleep 0.2
  done
done
dt lifecycle create ToProd --phase Production:Prod >/dev/null 2>&1
pr env create Production >/dev/null 2>&1
pr lifecycle create ProdLife --phase Production:Production >/dev/null 2>&1

echo "==> A: 10,000 variables (1,000 sensitive) and 10 packages of 2 MiB"
dt project create Big --lifecycle ToProd >/dev/null 2>&1
python3 - <<'EOF'
import gzip, io, json, random, tarfile
rnd = random.Random(7)
for i in range(10):
    data = rnd.randbytes(2 * 1024 * 1024)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(f"bin/app{i}.bin"); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    with open(f"Big.Pkg{i}.1.0.0.tar.gz", "wb") as f:
        f.write(gzip.compress(buf.getvalue(), 1))
vars = [{"name": f"App.Setting{i:05}", "value": f"value-{i}-" + rnd.randbytes(12).hex(),
         "sensitive": i % 10 == 0} for i in range(10000)]
json.dump(vars, open("vars.json", "w"))
EOF
for i in $(seq 0 9); do
  dt package upload "Big.Pkg$i.1.0.0.tar.gz" >/dev/null 2>&1
  dt step add --project Big --name "Install$i" --package "Big.Pkg$i" >/dev/null 2>&1
done
t0=$(now); dt variable import vars.json --project Big 2>&1; echo "    (variable import: $(since "$t0") s)"
promote=() add=() import=() bsize=()
for r in 1 2 3; do
  dt release create --project Big --version "1.0.$r" >/dev/null 2>&1
  t0=$(now); dt release promote --project Big --version "1.0.$r" --to-space Prod --out "big-$r.bundle" >/dev/null 2>&1
  promote+=("$(since "$t0")"); bsize+=("$(size "big-$r.bundle")")
done
pr package inventory --out prod-empty.inv >/dev/null 2>&1
t0=$(now); dt package export --bundle big-1.bundle --inventory prod-empty.inv --out big.xfer >/dev/null 2>&1
export_s=$(since "$t0"); xsize=$(size big.xfer)
t0=$(now); pr package import big.xfer >/dev/null 2>&1; pimport_s=$(since "$t0")
for r in 1 2 3; do
  t0=$(now); pr bundle add "big-$r.bundle" >/dev/null 2>&1; add+=("$(since "$t0")")
  id=$(pr bundle list -o json | python3 -c "import json,sys; print([b['id'] for b in json.load(sys.stdin) if b['version']=='1.0.$r'][0])")
  t0=$(now); pr bundle import "$id" >/dev/null; import+=("$(since "$t0")")
done
vcount=$(pr release show --project 'DevTest: Big' --version 1.0.1 -o json | python3 -c "import json,sys; r=json.load(sys.stdin); print(len(r['variables']), sum(v['sensitive'] for v in r['variables']))")

echo "==> B: 1% scattered change of a 256 MiB package"
ART=$CACHE/artifacts-$SEED
if [[ ! -f $ART/v-scatter.bin ]]; then
  python3 "$GEN" "$ART" --seed "$SEED" >/dev/null
fi
mkdir -p pkg-base pkg-next
cp "$ART/base.bin" pkg-base/app.bin
cp "$ART/v-scatter.bin" pkg-next/app.bin
tar -C pkg-base -cf - app.bin | gzip -6 --rsyncable >Scatter.App.1.0.0.tar.gz
tar -C pkg-next -cf - app.bin | gzip -6 --rsyncable >Scatter.App.1.0.1.tar.gz
dt project create Scatter --lifecycle ToProd >/dev/null 2>&1
dt step add --project Scatter --name Install --package Scatter.App >/dev/null 2>&1
dt package upload Scatter.App.1.0.0.tar.gz >/dev/null 2>&1
dt release create --project Scatter --version 1.0.0 >/dev/null 2>&1
dt release promote --project Scatter --version 1.0.0 --to-space Prod --out s1.bundle >/dev/null 2>&1
pr package inventory --out prod1.inv >/dev/null 2>&1
dt package export --bundle s1.bundle --inventory prod1.inv --out s1.xfer >/dev/null 2>&1
pr package import s1.xfer >/dev/null 2>&1
pr bundle add s1.bundle >/dev/null 2>&1
pr bundle import "$(pr bundle list -o json | python3 -c "import json,sys; print([b['id'] for b in json.load(sys.stdin) if b['project']=='Scatter'][0])")" >/dev/null
dt package upload Scatter.App.1.0.1.tar.gz >/dev/null 2>&1
dt release create --project Scatter --version 1.0.1 >/dev/null 2>&1
dt release promote --project Scatter --version 1.0.1 --to-space Prod --out s2.bundle >/dev/null 2>&1
pr package inventory --out prod2.inv >/dev/null 2>&1
t0=$(now)
dt package export --bundle s2.bundle --inventory prod2.inv --out s2.xfer -o json >s2.json 2>/dev/null
s2_export=$(since "$t0")
t0=$(now); pr package import s2.xfer >/dev/null 2>&1; s2_import=$(since "$t0")
pr bundle add s2.bundle >/dev/null 2>&1
pr bundle import "$(pr bundle list -o json | python3 -c "import json,sys; print([b['id'] for b in json.load(sys.stdin) if b['project']=='Scatter' and b['version']=='1.0.1'][0])")" >/dev/null
ours=$(size s2.xfer)
inv=$(size prod2.inv)
rsync_bytes() { # OLD NEW [rsync opts]: bytes sent + received updating a copy of OLD to NEW
  local old=$1 new=$2
  shift 2
  rm -rf rs && mkdir -p rs && cp "$old" "rs/$(basename "$new")"
  rsync --no-whole-file --stats "$@" "$new" rs/ | awk '/Total bytes sent/ {gsub(",","",$4); s=$4} /Total bytes received/ {gsub(",","",$4); r=$4} END {print s + r}'
}
rs=$(rsync_bytes Scatter.App.1.0.0.tar.gz Scatter.App.1.0.1.tar.gz)
rsz=$(rsync_bytes Scatter.App.1.0.0.tar.gz Scatter.App.1.0.1.tar.gz -z)
rsraw=$(rsync_bytes "$ART/base.bin" "$ART/v-scatter.bin")
pkgsize=$(size Scatter.App.1.0.1.tar.gz)
ratio() { python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$1" "$2"; }
mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:.2f} MB')" "$1"; }

{
  echo "## Promotion by file ($(date -u +%Y-%m-%d), $(nproc) cores, release build)"
  echo
  echo "A. Release with 10,000 variables (1,000 sensitive; the imported release has: $vcount) and 10 packages of 2 MiB (medians of 3 releases):"
  echo
  echo "| what | figure |"
  echo "|---|---|"
  echo "| \`release promote\` (bundle built, sealed, signed, written) | $(median "${promote[@]}") s |"
  echo "| bundle file size | $(mb "$(median "${bsize[@]}")") |"
  echo "| \`bundle add\` in Prod (verify, decrypt check, keep) | $(median "${add[@]}") s |"
  echo "| \`bundle import\` in Prod (verify, 10 packages re-hashed, atomic create) | $(median "${import[@]}") s |"
  echo "| \`package export\` full archive (empty target inventory) | $export_s s, $(mb "$xsize") |"
  echo "| \`package import\` of that archive | $pimport_s s |"
  echo
  echo "B. 1% scattered change (v-scatter: 100 regions of ~26 KiB) of a 256 MiB file, as .tar.gz ($(mb "$pkgsize"), gzip -6 --rsyncable):"
  echo
  echo "| bytes to bring Prod from 1.0.0 to 1.0.1 | bytes | ratio to ours |"
  echo "|---|---|---|"
  echo "| transfer archive with Prod's inventory (ours) | $(mb "$ours") | 1.00 |"
  echo "| + the inventory carried the other way | $(mb "$inv") ($inv B) | |"
  echo "| rsync --stats, same two .tar.gz | $(mb "$rs") | $(ratio "$rs" "$ours") |"
  echo "| rsync -z --stats, same two .tar.gz | $(mb "$rsz") | $(ratio "$rsz" "$ours") |"
  echo "| rsync --stats, the raw .bin files (reference) | $(mb "$rsraw") | $(ratio "$rsraw" "$ours") |"
  echo
  echo "Export with the inventory: ${s2_export} s; import: ${s2_import} s; export summary: $(cat s2.json)"
} | tee "$OUT/results.md"
