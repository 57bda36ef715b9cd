#!/usr/bin/env bash
# Package upload/download throughput over loopback, side by side with baselines in one run.
#
# What it measures (hyperfine, medians of $RUNS runs, default 3), all on the same ~512 MiB
# .tar.gz (a single-entry tar of binary-like content that compresses ~2:1, gzip -1; built
# deterministically from the mixer in /work/shared/bench/gen-artifacts.py, cached):
#   baselines : nginx -> curl to /dev/null, nginx -> curl to a file (plain HTTP), cp of the file
#   ours      : deploy package download --out FILE (gRPC over TLS, SHA-256 verified),
#               deploy package upload into a fresh (cold) store, new server + data dir per run,
#               deploy package upload of identical bytes as a new version (chunks already stored)
#   reference : single-threaded tools on the same bytes (gzip -dc, openssl sha256, zstd -3 -T1)
#               to show where the server's time can go (validation = gunzip, hashing, compression)
# The archive is read from the page cache in every row; only the server's chunk store fsyncs.
#
# Run (as root, non-interactively), from anywhere:
#   bench/transfer.sh
# Needs nginx, curl, hyperfine, python3, gzip, zstd, openssl; it runs
# `cargo build --release --workspace` first (SKIP_BUILD=1 to skip). Knobs: RUNS=3,
# SEED=20261123, PAYLOAD_MIB=944 (gives a ~512 MiB archive), BENCH_CACHE (archive cache dir,
# default /var/tmp/space-bench-cache), OUT (results dir, default target/bench/transfer).
# Prints a markdown table (also written to $OUT/results.md; raw hyperfine JSON in $OUT).
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
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
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

# ---------------------------------------------------------------- the archive (cached)
mkdir -p "$CACHE" "$OUT"
ARCHIVE=$CACHE/payload-$SEED-${PAYLOAD_MIB}MiB.tar.gz
if [ ! -s "$ARCHIVE" ]; then
    log "generating $ARCHIVE (${PAYLOAD_MIB} MiB payload, gzip -1; about 2 minutes)"
    python3 - "$GEN" "$SEED" "$PAYLOAD_MIB" <<'PY' | gzip -1 -n > "$ARCHIVE.tmp"
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
    mv "$ARCHIVE.tmp" "$ARCHIVE"
fi
SIZE=$(stat -c %s "$ARCHIVE")
PAYLOAD=$(gzip -dc "$ARCHIVE" | wc -c)
log "archive $ARCHIVE: $SIZE bytes (tar $PAYLOAD bytes)"
cat "$ARCHIVE" > /dev/null   # warm the page cache for every row alike

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- servers
# start_server NAME: fresh data dir; writes $WORK/srv-NAME/env (DEPLOY_* variables) and pid.
cat > "$WORK/start-server.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
d=$WORK/srv-\$1
if [ -f "\$d/pid" ]; then
    p=\$(cat "\$d/pid"); kill "\$p" 2>/dev/null || true
    while kill -0 "\$p" 2>/dev/null; do sleep 0.05; done
fi
rm -rf "\$d"; mkdir -p "\$d"
setsid "$BIN/space-server" --data-dir "\$d/data" --listen 127.0.0.1:0 > "\$d/log" 2>&1 < /dev/null &
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
# next-version: hard-links the archive under the next unused version name, prints its path.
cat > "$WORK/next-version.sh" <<EOF
#!/usr/bin/env bash
set -e
n=\$(( \$(cat "$WORK/ver" 2>/dev/null || echo 1) + 1 )); echo \$n > "$WORK/ver"
rm -f "$WORK"/up/*.tar.gz
ln "$WORK/src/$ID.1.0.0.tar.gz" "$WORK/up/$ID.1.0.\$n.tar.gz"
EOF
cat > "$WORK/upload-current.sh" <<EOF
#!/usr/bin/env bash
exec "$WORK/deploy-in.sh" "\$1" package upload "$WORK"/up/$ID.1.0.*.tar.gz
EOF
chmod +x "$WORK"/*.sh
mkdir -p "$WORK/src" "$WORK/up" "$WORK/www" "$WORK/dst" "$WORK/nginx"
cp "$ARCHIVE" "$WORK/src/$ID.1.0.0.tar.gz"
ln "$WORK/src/$ID.1.0.0.tar.gz" "$WORK/www/pkg.tar.gz"
SRC=$WORK/src/$ID.1.0.0.tar.gz
DST=$WORK/dst/out.tar.gz

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
URL=http://127.0.0.1:$NPORT/pkg.tar.gz
for _ in $(seq 100); do curl -sf -o /dev/null -r 0-0 "$URL" && break; sleep 0.05; done
[ "$(curl -s -o /dev/null -w '%{size_download}' "$URL")" = "$SIZE" ] || { echo "nginx does not serve the archive" >&2; exit 1; }

# ---------------------------------------------------------------- the download server
log "starting space-server, uploading the archive once"
"$WORK/start-server.sh" feed
"$WORK/deploy-in.sh" feed package upload "$SRC" 2>"$WORK/first-upload.log" >/dev/null
"$WORK/deploy-in.sh" feed package download $ID 1.0.0 --out "$DST" 2>/dev/null
cmp "$SRC" "$DST" || { echo "downloaded package differs from the archive" >&2; exit 1; }
rm -f "$DST"

hf() { # hf NAME [hyperfine args...]
    local name=$1; shift
    log "measuring $name"
    hyperfine --runs "$RUNS" --style basic --export-json "$OUT/$name.json" "$@" >&2
}

hf curl-null   -n curl-null   "curl -s -o /dev/null $URL"
hf curl-file   -n curl-file   --prepare "rm -f $DST" "curl -s -o $DST $URL"
hf cp          -n cp          --prepare "rm -f $DST" "cp $SRC $DST"
hf download    -n download    --prepare "rm -f $DST" "$WORK/deploy-in.sh feed package download $ID 1.0.0 --out $DST"
hf upload-cold -n upload-cold --prepare "$WORK/start-server.sh cold && $WORK/next-version.sh" \
    "$WORK/upload-current.sh cold"
hf upload-warm -n upload-warm --prepare "$WORK/next-version.sh" "$WORK/upload-current.sh feed"
hf gunzip      -n gunzip      "gzip -dc $SRC > /dev/null"
hf sha256      -n sha256      "openssl dgst -sha256 $SRC > /dev/null"
hf zstd3       -n zstd3       "zstd -3 -T1 -q -c $SRC > /dev/null"
rm -f "$DST"
tail -1 "$WORK/first-upload.log" > "$OUT/first-upload.txt"
"$WORK/deploy-in.sh" feed package stats > "$OUT/feed-stats.txt" 2>&1 || true

# ---------------------------------------------------------------- table
python3 - "$OUT" "$SIZE" "$PAYLOAD" <<'PY' | tee "$OUT/results.md"
import json, os, sys
out, size, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MiB = 1 << 20
def med(n):
    r = json.load(open(os.path.join(out, n + ".json")))["results"][0]
    return r["median"], r["times"]
rows = [
    ("nginx → curl → /dev/null (HTTP)", "curl-null", None),
    ("nginx → curl → file (HTTP)", "curl-file", None),
    ("**deploy package download --out** (gRPC/TLS, SHA-256 verified)", "download", "curl-file"),
    ("cp file → file", "cp", None),
    ("**deploy package upload**, fresh store (cold)", "upload-cold", "cp"),
    ("deploy package upload, identical bytes re-uploaded as a new version", "upload-warm", "cp"),
    ("ref: gzip -dc → /dev/null (1 thread; what validation does)", "gunzip", None),
    ("ref: openssl dgst -sha256", "sha256", None),
    ("ref: zstd -3 -T1 → /dev/null", "zstd3", None),
]
print(f"archive: {size:,} B ({size / MiB:.1f} MiB) .tar.gz, tar inside {payload:,} B; medians of "
      f"{len(med('cp')[1])} runs\n")
print("| what | median s | runs (s) | MiB/s | ratio |")
print("|---|---:|---|---:|---|")
for label, n, base in rows:
    m, ts = med(n)
    rate = size / MiB / m
    ratio = ""
    if base:
        bm = med(base)[0]
        ratio = f"{(size / m) / (size / bm):.2f}× {base}"
    print(f"| {label} | {m:.2f} | {', '.join(f'{t:.2f}' for t in ts)} | {rate:,.0f} | {ratio} |")
PY
log "results in $OUT"
