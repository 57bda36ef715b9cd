#!/usr/bin/env bash
# Package upload/download throughput over loopback, side by side with baselines in one run.
#
# What it measures (hyperfine, medians of $RUNS runs, default 3) on a ~512 MiB .tar.gz (a
# single-entry tar of binary-like content that compresses ~2:1, gzip -1; built deterministically
# from the mixer in /work/shared/bench/gen-artifacts.py and cached):
#   baselines : nginx -> curl to /dev/null, nginx -> curl to a file (plain HTTP), cp of the file
#   upload    : deploy package upload into a fresh (cold) store (new server + data dir per run),
#               and identical bytes re-uploaded as a new version (chunks already stored).
#               The CLI gives up on every call after 10 s ("Timeout expired": Endpoint::timeout
#               in deploy::tls::connect_pinned), which a 512 MiB upload exceeds, so an upload is
#               timed from the CLI's start until the server logs "ingested package content"
#               (RUST_LOG debug: received, validated, chunked, compressed, fsynced). The CLI's own
#               outcome and the phase split go to $OUT/upload-phases.tsv and the table notes.
#   download  : deploy package download --out FILE (gRPC over TLS, SHA-256 verified). Because of
#               that 10 s limit no 512 MiB package can get into a feed through the CLI, so
#               download is measured on a smaller archive from the same generator (SMALL_MIB
#               payload, ~128 MiB archive) that uploads within 10 s, with curl/cp rows on it too.
#   reference : single-threaded tools on the 512 MiB bytes (gzip -dc, openssl sha256, zstd -3
#               -T1): where the server's time can go (validation = gunzip, hashing, zstd).
# Every input is read from the page cache; only the server's chunk store fsyncs.
#
# Run (as root, non-interactively), from anywhere:
#   bench/transfer.sh
# Needs nginx, curl, hyperfine, python3, gzip, zstd, openssl; it runs
# `cargo build --release --workspace` first (SKIP_BUILD=1 to skip). Knobs: RUNS=3,
# SEED=20261123, PAYLOAD_MIB=944 (gives a ~512 MiB archive), SMALL_MIB=240, BENCH_CACHE (archive
# cache dir, default /var/tmp/space-bench-cache), OUT (results dir, default target/bench/transfer).
# Prints a markdown table (also $OUT/results.md; raw hyperfine JSON in $OUT).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
RUNS=${RUNS:-3}
SEED=${SEED:-20261123}
PAYLOAD_MIB=${PAYLOAD_MIB:-944}
SMALL_MIB=${SMALL_MIB:-240}
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
SMALL_ARCHIVE=$(make_archive "$SMALL_MIB")
SIZE=$(stat -c %s "$ARCHIVE")
SMALL_SIZE=$(stat -c %s "$SMALL_ARCHIVE")
PAYLOAD=$(gzip -dc "$ARCHIVE" | wc -c)
log "archive $ARCHIVE: $SIZE B (tar $PAYLOAD B); small $SMALL_ARCHIVE: $SMALL_SIZE B"

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
RUST_LOG=info,deploy::packages=debug setsid "$BIN/space-server" --data-dir "\$d/data" \\
    --listen 127.0.0.1:0 > "\$d/log" 2>&1 < /dev/null &
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
# next-version: hard-links the big archive under the next unused version name into up/.
cat > "$WORK/next-version.sh" <<EOF
#!/usr/bin/env bash
set -e
n=\$(( \$(cat "$WORK/ver" 2>/dev/null || echo 0) + 1 )); echo \$n > "$WORK/ver"
rm -f "$WORK"/up/*.tar.gz
ln "$WORK/src/$ID.1.0.0.tar.gz" "$WORK/up/$ID.1.0.\$n.tar.gz"
EOF
# timed-upload NAME TAG: uploads up/* to server NAME and returns once the server has ingested
# it; appends TAG, start, validated, ingested, CLI exit time, rc, message. Fails after 120 s:
# if the CLI gives up before the server has validated the archive, the server drops the upload
# (its temp file goes with the cancelled request) and never ingests it.
cat > "$WORK/timed-upload.sh" <<EOF
#!/usr/bin/env bash
set -u
log=$WORK/srv-\$1/log
count() { grep -c "ingested package content" "\$log"; }
before=\$(count)
t0=\$(date +%s.%N)
"$WORK/deploy-in.sh" "\$1" package upload "$WORK"/up/*.tar.gz 2>"$WORK/srv-\$1/cli.err" >/dev/null
rc=\$?
msg=\$(tail -1 "$WORK/srv-\$1/cli.err")
t1=\$(date +%s.%N)
for _ in \$(seq 6000); do [ "\$(count)" -gt "\$before" ] && break; sleep 0.02; done
[ "\$(count)" -gt "\$before" ] || { echo "server did not ingest: \$msg" >&2; exit 1; }
ts() { date -d "\$(grep "\$1" "\$log" | tail -1 | cut -d' ' -f1)" +%s.%N; }
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "\$2" "\$t0" "\$(ts "archive validated")" \
    "\$(ts "ingested package content")" "\$t1" "\$rc" "\$msg" >> "$OUT/upload-phases.tsv"
EOF
chmod +x "$WORK"/*.sh

mkdir -p "$WORK/src" "$WORK/up" "$WORK/www" "$WORK/dst" "$WORK/nginx"
SRC=$WORK/src/$ID.1.0.0.tar.gz
SMALL_SRC=$WORK/src/$ID.Small.1.0.0.tar.gz
DST=$WORK/dst/out.tar.gz
cp "$ARCHIVE" "$SRC"
cp "$SMALL_ARCHIVE" "$SMALL_SRC"
ln "$SRC" "$WORK/www/big.tar.gz"
ln "$SMALL_SRC" "$WORK/www/small.tar.gz"
rm -f "$OUT"/*.json "$OUT/upload-phases.tsv"

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
SMALL_URL=http://127.0.0.1:$NPORT/small.tar.gz
for _ in $(seq 100); do curl -sf -o /dev/null -r 0-0 "$URL" && break; sleep 0.05; done
[ "$(curl -s -o /dev/null -w '%{size_download}' "$URL")" = "$SIZE" ] \
    || { echo "nginx does not serve the archive" >&2; exit 1; }

# ---------------------------------------------------------------- download source
log "starting space-server 'feed', uploading the small archive once (download source)"
"$WORK/start-server.sh" feed
"$WORK/deploy-in.sh" feed package upload "$SMALL_SRC" 2>"$OUT/small-upload.txt" >/dev/null \
    || { cat "$OUT/small-upload.txt" >&2; exit 1; }
"$WORK/deploy-in.sh" feed package download $ID.Small 1.0.0 --out "$DST" 2>/dev/null
cmp "$SMALL_SRC" "$DST" || { echo "downloaded package differs from the archive" >&2; exit 1; }
rm -f "$DST"
cat "$SRC" "$SMALL_SRC" > /dev/null   # warm the page cache for every row alike

hf() { # hf NAME [hyperfine args...]
    local name=$1; shift
    log "measuring $name"
    hyperfine --runs "$RUNS" --style basic --export-json "$OUT/$name.json" -n "$name" "$@" >&2
}

hf curl-null   "curl -s -o /dev/null $URL"
hf curl-file   --prepare "rm -f $DST" "curl -s -o $DST $URL"
hf cp          --prepare "rm -f $DST" "cp $SRC $DST"
rm -f "$DST"
hf upload-cold --prepare "$WORK/start-server.sh cold && $WORK/next-version.sh" \
    "$WORK/timed-upload.sh cold cold"
# re-upload: server 'warm' gets the bytes once (not timed), then identical re-uploads
"$WORK/start-server.sh" warm
"$WORK/next-version.sh"
"$WORK/timed-upload.sh" warm first
hf upload-warm --prepare "$WORK/next-version.sh" "$WORK/timed-upload.sh warm warm"
hf gunzip      "gzip -dc $SRC > /dev/null"
hf sha256      "openssl dgst -sha256 $SRC > /dev/null"
hf zstd3       "zstd -3 -T1 -q -c $SRC > /dev/null"
hf s-curl-null "curl -s -o /dev/null $SMALL_URL"
hf s-curl-file --prepare "rm -f $DST" "curl -s -o $DST $SMALL_URL"
hf s-cp        --prepare "rm -f $DST" "cp $SMALL_SRC $DST"
hf s-download  --prepare "rm -f $DST" \
    "$WORK/deploy-in.sh feed package download $ID.Small 1.0.0 --out $DST"
rm -f "$DST"

# ---------------------------------------------------------------- table
python3 - "$OUT" "$SIZE" "$PAYLOAD" "$SMALL_SIZE" <<'PY' | tee "$OUT/results.md"
import json, os, statistics, sys
out, size, payload, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
MiB = 1 << 20
def med(n):
    r = json.load(open(os.path.join(out, n + ".json")))["results"][0]
    return r["median"], r["times"]
B, S = f"{size / MiB:.0f} MiB", f"{small / MiB:.0f} MiB"
rows = [
    (B, "nginx → curl → /dev/null (HTTP)", "curl-null", None),
    (B, "nginx → curl → file (HTTP)", "curl-file", None),
    (B, "cp file → file", "cp", None),
    (B, "**deploy package upload**, fresh store (cold) ¹", "upload-cold", "cp"),
    (B, "deploy package upload, identical bytes as a new version ¹", "upload-warm", "cp"),
    (B, "ref: gzip -dc → /dev/null (1 thread; = validation)", "gunzip", None),
    (B, "ref: openssl dgst -sha256", "sha256", None),
    (B, "ref: zstd -3 -T1 → /dev/null", "zstd3", None),
    (S, "nginx → curl → /dev/null (HTTP)", "s-curl-null", None),
    (S, "nginx → curl → file (HTTP)", "s-curl-file", None),
    (S, "cp file → file", "s-cp", None),
    (S, "**deploy package download --out** (gRPC/TLS, SHA-256 verified)", "s-download", "s-curl-file"),
]
print(f"archives: {size:,} B ({size / MiB:.1f} MiB; tar inside {payload:,} B) and {small:,} B "
      f"({small / MiB:.1f} MiB); medians of {len(med('cp')[1])} runs\n")
print("| file | what | median s | runs (s) | MiB/s | ratio (MiB/s ours / baseline) |")
print("|---|---|---:|---|---:|---|")
for f, label, n, base in rows:
    sz = size if f == B else small
    m, ts = med(n)
    ratio = f"{med(base)[0] / m:.3f} vs {base}" if base else ""
    print(f"| {f} | {label} | {m:.2f} | {', '.join(f'{t:.2f}' for t in ts)} | "
          f"{sz / MiB / m:,.0f} | {ratio} |")
print("\n¹ timed from the CLI's start until the server logged the ingest as done; phases "
      "(medians):\n")
rs = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "upload-phases.tsv"))]
for tag in ("cold", "warm"):
    r = [x for x in rs if x[0] == tag]
    if not r:
        continue
    v = statistics.median(float(x[2]) - float(x[1]) for x in r)
    i = statistics.median(float(x[3]) - float(x[2]) for x in r)
    c = statistics.median(float(x[4]) - float(x[1]) for x in r)
    outcome = "; ".join(sorted({f"exit {x[5]}: {x[6]}" for x in r}))
    print(f"- {tag}: start → archive validated {v:.2f} s (receive + gunzip), validated → "
          f"ingested {i:.2f} s (chunk, hash, zstd, write, fsync); the CLI exited after "
          f"{c:.2f} s ({outcome})")
PY
log "results in $OUT"
