#!/usr/bin/env bash
# Package upload/download throughput over loopback, side by side with baselines in one run.
#
# What it measures (hyperfine, medians of $RUNS runs, default 3) on a ~512 MiB .tar.gz (a
# single-entry tar of binary-like content that compresses ~2:1, gzip -1; built deterministically
# from the mixer in /work/shared/bench/gen-artifacts.py and cached):
#   baselines : nginx -> curl to /dev/null, nginx -> curl to a file (plain HTTP), cp of the file
#   upload    : `deploy package upload` end to end (hyperfine times the CLI until it exits):
#               into a fresh (cold) store (new server + data dir per run, not timed), and the
#               identical bytes re-uploaded as a new version (chunks already stored).
#   download  : `deploy package download --out FILE` of that 512 MiB package (gRPC over TLS,
#               SHA-256 verified), from the re-upload server.
#   replication: `deploy release promote --to-space` of a release holding that package to a
#               connected Space, timed to the target's "bundle packages fetched" (every chunk
#               checked, stored, synced; tests/src/bin/bench-replication.rs, a new ODCM and
#               pair of Spaces per run).
#   reference : single-threaded tools on the same bytes (gzip -dc, openssl sha256, zstd -3 -T1):
#               where the server's time can go (validation = gunzip, hashing, zstd).
# Phase split (a note, not a measurement of its own): the upload wrapper stamps the CLI's start
# and exit; the server logs "ingested package content" (RUST_LOG debug) when every chunk is
# cut, hashed and staged (chunking runs while the bytes arrive and are validated), and
# "package uploaded" after validation, the staging pack's sync and adoption and the manifest
# commit. Rows go to $OUT/upload-phases.tsv and the notes under the table.
# Every input is read from the page cache; only the server's chunk store fsyncs.
#
# Run (as root, non-interactively), from anywhere:
#   bench/transfer.sh
# Needs nginx, curl, hyperfine, python3, gzip, zstd, openssl; it runs
# `cargo build --release --workspace` first (SKIP_BUILD=1 to skip). Knobs: RUNS=3,
# SEED=20261123, PAYLOAD_MIB=944 (gives a ~512 MiB archive), BENCH_CACHE (archive cache dir,
# default /var/tmp/space-bench-cache), OUT (results dir, default target/bench/transfer).
# Prints a markdown table (also $OUT/results.md; raw hyperfine JSON in $OUT).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
RUNS=${RUNS:-3}
SEED=${SEED:-20261123}
PAYLOAD_MIB=${PAYLOAD_MIB:-944}
CACHE=${BENCH_CACHE:-/var/tmp/space-bench-cache}
OUT=${OUT:-$ROOT/target/bench/transfer}
GEN=${GEN_ARTIFACTS:-/work/shared/bench/gen-artifacts.py}
ID=Bench.Blob

for t in nginx curl hyperfine python3 gzip zstd openssl; do
    command -v "$t" >/dev/null || { echo "missing tool: $t (apt-get install -y nginx curl hyperfine zstd openssl)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/space-bench.XXXXXX)
NGINX_PID=
cleanup() {
    local rc=$? p pid
    set +e
    trap - EXIT INT TERM
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; fi
    for p in "$WORK"/srv-*/pid; do
        [ -f "$p" ] || continue
        pid=$(cat "$p"); kill "$pid" 2>/dev/null
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(date +%T)] $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build --release --workspace"
    (cd "$ROOT" && cargo build --release --workspace --quiet)
fi
[ -x "$BIN/space-server" ] && [ -x "$BIN/deploy" ] || { echo "binaries missing in $BIN" >&2; exit 1; }
mkdir -p "$CACHE" "$OUT"

# ---------------------------------------------------------------- archives (cached)
gen_tar() { # gen_tar PAYLOAD_MIB: a single-entry tar on stdout
    python3 - "$GEN" "$SEED" "$1" <<'PY'
import importlib.util, random, sys, tarfile
gen, seed, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = importlib.util.spec_from_file_location("gen_artifacts", gen)
ga = importlib.util.module_from_spec(spec); spec.loader.exec_module(ga)
mixer, r = ga.Mixer(seed), random.Random(f"{seed}:archive")
size, step = mib << 20, 16 << 20
ti = tarfile.TarInfo("payload.bin"); ti.size = size; ti.mtime = 1700000000; ti.mode = 0o644
out = sys.stdout.buffer
out.write(ti.tobuf(format=tarfile.USTAR_FORMAT))
left = size
while left:
    n = min(step, left); out.write(mixer.gen(r, n)); left -= n
out.write(b"\0" * (-size % 512) + b"\0" * 1024)   # pad + end-of-archive blocks
out.flush()
PY
}
make_archive() { # make_archive PAYLOAD_MIB: prints the cached archive's path
    local a=$CACHE/payload-$SEED-${1}MiB.tar.gz
    if [ ! -s "$a" ]; then
        log "generating $a (${1} MiB payload, gzip -1; ~10 s per 100 MiB)"
        gen_tar "$1" | gzip -1 -n > "$a.tmp"
        mv "$a.tmp" "$a"
    fi
    echo "$a"
}
ARCHIVE=$(make_archive "$PAYLOAD_MIB")
SIZE=$(stat -c %s "$ARCHIVE")
PAYLOAD=$(gzip -dc "$ARCHIVE" | wc -c)
log "archive $ARCHIVE: $SIZE B (tar $PAYLOAD B)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- helper scripts
# start-server NAME: (re)starts server NAME on a fresh data dir; writes $WORK/srv-NAME/env.
cat > "$WORK/start-server.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
d=$WORK/srv-\$1
if [ -f "\$d/pid" ]; then
    p=\$(cat "\$d/pid"); kill "\$p" 2>/dev/null || true
    while kill -0 "\$p" 2>/dev/null; do sleep 0.05; done
fi
rm -rf "\$d"; mkdir -p "\$d"
RUST_LOG=info,package_store=debug NO_COLOR=1 setsid "$BIN/space-server" --data-dir "\$d/data" \\
    --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --web-listen "" > "\$d/log" 2>&1 < /dev/null &
echo \$! > "\$d/pid"
for _ in \$(seq 600); do grep -q "listening on" "\$d/log" && break; sleep 0.05; done
line=\$(grep -m1 "listening on" "\$d/log") || { cat "\$d/log" >&2; exit 1; }
key=\$(sed -n 's/.*store it now): *\(dk_[^ ]*\).*/\1/p' "\$d/log" | head -1)
url=\$(echo "\$line" | sed 's/.*listening on \(https:[^ ]*\).*/\1/')
fp=\$(echo "\$line" | sed 's/.*certificate \(sha256:[0-9a-fA-F]*\).*/\1/')
{ echo "export DEPLOY_SERVER=\$url DEPLOY_API_KEY=\$key DEPLOY_FINGERPRINT=\$fp"
  echo "export DEPLOY_CONFIG=\$d/config.toml"; } > "\$d/env"
EOF
# deploy-in NAME ARGS...: runs the CLI against server NAME.
cat > "$WORK/deploy-in.sh" <<EOF
#!/usr/bin/env bash
. "$WORK/srv-\$1/env"; shift
exec "$BIN/deploy" "\$@"
EOF
# next-version: hard-links the archive under the next unused version name into up/.
cat > "$WORK/next-version.sh" <<EOF
#!/usr/bin/env bash
set -e
n=\$(( \$(cat "$WORK/ver" 2>/dev/null || echo 0) + 1 )); echo \$n > "$WORK/ver"
rm -f "$WORK"/up/*.tar.gz
ln "$WORK/src/$ID.1.0.0.tar.gz" "$WORK/up/$ID.1.0.\$n.tar.gz"
EOF
# upload NAME TAG: the timed command. Runs the real CLI upload of up/* against server NAME and
# stamps its start and exit (bash \$EPOCHREALTIME, no extra process) for the phase notes.
cat > "$WORK/upload.sh" <<EOF
#!/usr/bin/env bash
d=$WORK/srv-\$1
. "\$d/env"
t0=\$EPOCHREALTIME
"$BIN/deploy" package upload "$WORK"/up/*.tar.gz > "\$d/cli.out" 2> "\$d/cli.err"
rc=\$?
t1=\$EPOCHREALTIME
printf '%s\t%s\t%s\t%s\n' "\$2" "\$t0" "\$t1" "\$rc" > "\$d/stamp"
[ \$rc = 0 ] || cat "\$d/cli.err" >&2
exit \$rc
EOF
# phases NAME: if server NAME has an unrecorded upload, appends to upload-phases.tsv: TAG, CLI
# start, first pack file created after it (empty if none), "ingested package content",
# "package uploaded", CLI exit, exit code. Runs in --prepare (before the data dir goes) and after.
cat > "$WORK/phases.sh" <<EOF
#!/usr/bin/env bash
set -eu
d=$WORK/srv-\$1
[ -f "\$d/stamp" ] || exit 0
IFS=\$'\t' read -r tag t0 t1 rc < "\$d/stamp"
ts() { date -d "\$(grep "\$1" "\$d/log" | tail -1 | cut -d' ' -f1)" +%s.%N; }
# The first chunk written: the birth time of the first pack created after the start.
first=\$(stat -c '%.9W' "\$d"/data/chunks/packs/*.pack 2>/dev/null | awk -v t0="\$t0" '\$1 >= t0' | sort -n | head -1)
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "\$tag" "\$t0" "\$first" "\$(ts "ingested package content")" \\
    "\$(ts "package uploaded")" "\$t1" "\$rc" >> "$OUT/upload-phases.tsv"
rm -f "\$d/stamp"
EOF
chmod +x "$WORK"/*.sh

mkdir -p "$WORK/src" "$WORK/up" "$WORK/www" "$WORK/dst" "$WORK/nginx"
SRC=$WORK/src/$ID.1.0.0.tar.gz
DST=$WORK/dst/out.tar.gz
cp "$ARCHIVE" "$SRC"
ln "$SRC" "$WORK/www/big.tar.gz"
rm -f "$OUT"/*.json "$OUT/upload-phases.tsv" "$OUT/results.md"

# ---------------------------------------------------------------- nginx
NPORT=$(free_port)
cat > "$WORK/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    types { application/gzip gz; }
    server { listen 127.0.0.1:$NPORT; root $WORK/www; }
}
EOF
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
URL=http://127.0.0.1:$NPORT/big.tar.gz
for _ in $(seq 100); do curl -sf -o /dev/null -r 0-0 "$URL" && break; sleep 0.05; done
[ "$(curl -s -o /dev/null -w '%{size_download}' "$URL")" = "$SIZE" ] \
    || { echo "nginx does not serve the archive" >&2; exit 1; }
cat "$SRC" > /dev/null   # warm the page cache for every row alike

hf() { # hf NAME [hyperfine args...]
    local name=$1; shift
    log "measuring $name"
    hyperfine --runs "$RUNS" --style basic --export-json "$OUT/$name.json" -n "$name" "$@" >&2
}

hf curl-null   "curl -s -o /dev/null $URL"
hf curl-file   --prepare "rm -f $DST" "curl -s -o $DST $URL"
hf cp          --prepare "rm -f $DST" "cp $SRC $DST"
rm -f "$DST"
hf upload-cold --prepare "$WORK/phases.sh cold && $WORK/start-server.sh cold && $WORK/next-version.sh" \
    "$WORK/upload.sh cold cold"
"$WORK/phases.sh" cold
kill "$(cat "$WORK/srv-cold/pid")"   # the last cold server: stop it and free its store
while kill -0 "$(cat "$WORK/srv-cold/pid")" 2>/dev/null; do sleep 0.05; done
rm -rf "$WORK/srv-cold"
# re-upload: server 'warm' gets the bytes once (not timed), then identical re-uploads
"$WORK/start-server.sh" warm
"$WORK/next-version.sh"
FIRST=1.0.$(cat "$WORK/ver")
"$WORK/upload.sh" warm first
"$WORK/phases.sh" warm
hf upload-warm --prepare "$WORK/phases.sh warm && $WORK/next-version.sh" "$WORK/upload.sh warm warm"
"$WORK/phases.sh" warm
# download: the 512 MiB package from server 'warm' (its first upload), checked once, then timed
"$WORK/deploy-in.sh" warm package download $ID "$FIRST" --out "$DST" > /dev/null
cmp "$SRC" "$DST" || { echo "downloaded package differs from the archive" >&2; exit 1; }
hf download    --prepare "rm -f $DST" \
    "$WORK/deploy-in.sh warm package download $ID $FIRST --out $DST"
rm -f "$DST"
# connected replication: promote a release holding the package to a connected Space, timed to
# the target's "bundle packages fetched" (every chunk checked, stored, synced); a new ODCM and
# pair of Spaces per run (tests/src/bin/bench-replication.rs)
log "measuring replication (RUNS=$RUNS, a new pair of connected Spaces per run)"
E2E_BIN_DIR=$BIN PACKAGE=$SRC RUNS=$RUNS "$BIN/bench-replication" > "$OUT/replication.tsv"
hf gunzip      "gzip -dc $SRC > /dev/null"
hf sha256      "openssl dgst -sha256 $SRC > /dev/null"
hf zstd3       "zstd -3 -T1 -q -c $SRC > /dev/null"
CHUNKS=$("$WORK/deploy-in.sh" warm package stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')

# ---------------------------------------------------------------- table
python3 - "$OUT" "$SIZE" "$PAYLOAD" "$CHUNKS" <<'PY' | tee "$OUT/results.md"
import json, os, statistics, sys
out, size, payload, chunks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
MiB = 1 << 20
def med(n):
    if n == "replication":  # seconds per run from bench-replication, not hyperfine
        ts = [float(l.split("\t")[0]) for l in open(os.path.join(out, "replication.tsv"))]
        return statistics.median(ts), ts
    r = json.load(open(os.path.join(out, n + ".json")))["results"][0]
    return r["median"], r["times"]
F = f"{size / MiB:.0f} MiB"
rows = [
    ("nginx → curl → /dev/null (HTTP)", "curl-null", ()),
    ("nginx → curl → file (HTTP)", "curl-file", ()),
    ("cp file → file", "cp", ()),
    ("**deploy package upload**, fresh store (cold)", "upload-cold", ("cp", "curl-file")),
    ("deploy package upload, identical bytes as a new version", "upload-warm", ("cp", "curl-file")),
    ("**deploy package download --out** (gRPC/TLS, SHA-256 verified)", "download", ("curl-file",)),
    ("**connected replication**: promote → every chunk fetched at the target", "replication", ("curl-file",)),
    ("ref: gzip -dc → /dev/null (1 thread; = validation)", "gunzip", ()),
    ("ref: openssl dgst -sha256", "sha256", ()),
    ("ref: zstd -3 -T1 → /dev/null", "zstd3", ()),
]
print(f"archive: {size:,} B ({size / MiB:.1f} MiB; tar inside {payload:,} B); "
      f"{chunks:,} chunks in the store (in pack files); medians of {len(med('cp')[1])} runs\n")
print("| file | what | median s | runs (s) | MiB/s | ratio (our MiB/s ÷ baseline's) |")
print("|---|---|---:|---|---:|---|")
for label, n, bases in rows:
    m, ts = med(n)
    ratio = "; ".join(f"{med(b)[0] / m:.3f} × {b}" for b in bases)
    print(f"| {F} | {label} | {m:.2f} | {', '.join(f'{t:.2f}' for t in ts)} | "
          f"{size / MiB / m:,.0f} | {ratio} |")
print("\nUpload phases (medians; CLI start/exit stamped by the wrapper, the rest from the "
      "server's log and pack files):\n")
rs = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "upload-phases.tsv"))]
for tag in ("cold", "first", "warm"):
    r = [x for x in rs if x[0] == tag]
    if not r:
        continue
    t0 = lambda x: float(x[1])
    ing = statistics.median(float(x[3]) - t0(x) for x in r)
    com = statistics.median(float(x[4]) - float(x[3]) for x in r)
    ex = statistics.median(float(x[5]) - t0(x) for x in r)
    rc = ", ".join(sorted({x[6] for x in r}))
    s = (f"- {tag} (n={len(r)}): start → every chunk cut, hashed and staged {ing:.2f} s "
         f"(receiving, validation and chunking overlap); → validated, staging pack synced and "
         f"adopted, manifest committed {com:.2f} s; CLI exited at {ex:.2f} s (exit {rc})")
    print(s)
PY
log "results in $OUT"
