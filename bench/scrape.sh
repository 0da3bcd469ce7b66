#!/usr/bin/env bash
# Scrape benchmark: pharos and Debian's Prometheus scrape the same local exporters at the same
# time (bench/scrape_exporter.py: TARGETS exporters × SERIES series, keep-alive HTTP/1.1), and the
# script prints CPU per scraped sample, RSS and scrape duration side by side with the ratio.
#
#   bash bench/scrape.sh                                  # 50 targets × 1500 series every 5 s, 60 s measured
#   TARGETS=10 SERIES=1000 WARMUP=10 MEASURE=20 bash bench/scrape.sh   # smoke run
#   PHAROS_BIN=target/release/pharos bash bench/scrape.sh # skip the build, use that binary
#
# CPU is utime+stime of each server process from /proc over the MEASURE window (after WARMUP
# seconds, so series creation is not counted); scraped samples come from each server's own
# `scrape_samples_scraped` over the same window, so a server that missed scrapes is not flattered.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-50}
SERIES=${SERIES:-1500}
INTERVAL=${INTERVAL:-5}
WARMUP=${WARMUP:-20}
MEASURE=${MEASURE:-60}
command -v prometheus >/dev/null || { echo "needs Debian's prometheus (apt-get install prometheus)"; exit 1; }
if [ -z "${PHAROS_BIN:-}" ]; then
  cargo build --release --bin pharos >/dev/null
  PHAROS_BIN=target/release/pharos
fi
work=$(mktemp -d /tmp/pharos-scrape-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# TARGETS consecutive free ports for the exporters.
first=$(python3 - "$TARGETS" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randint(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
EOF
)
python3 bench/scrape_exporter.py "$first" "$TARGETS" "$SERIES" $((WARMUP + MEASURE + 120)) >"$work/exporter.log" 2>&1 &
for _ in $(seq 300); do grep -q ready "$work/exporter.log" 2>/dev/null && break; sleep 0.1; done
targets=$(python3 -c "import sys; f,n=int(sys.argv[1]),int(sys.argv[2]); print(', '.join(\"'127.0.0.1:%d'\" % p for p in range(f, f+n)))" "$first" "$TARGETS")
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: ${INTERVAL}s
  scrape_timeout: ${INTERVAL}s
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: [$targets]
EOF
printf 'prometheus_config: prometheus.yml\ncollectors:\n  self: {enabled: false}\n  host: {enabled: false}\nsecurity: {enabled: false}\n' >"$work/pharos.yml"
pp=$(free_port); mp=$(free_port)
"$PHAROS_BIN" serve --config "$work/pharos.yml" --listen "127.0.0.1:$pp" --data "$work/pharos" 2>"$work/pharos.log" &
ppid=$!
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:$mp" 2>"$work/prometheus.log" &
mpid=$!
for url in "http://127.0.0.1:$pp" "http://127.0.0.1:$mp"; do
  for _ in $(seq 100); do curl -sf "$url/-/ready" >/dev/null && break; sleep 0.2; done
done
echo "pharos $("$PHAROS_BIN" --version) vs $(prometheus --version 2>&1 | head -1)"
echo "$TARGETS targets × $SERIES series every ${INTERVAL}s ($((TARGETS * SERIES / INTERVAL)) samples/s each); warm-up ${WARMUP}s, measured ${MEASURE}s"
sleep "$WARMUP"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
p0=$(ticks $ppid); m0=$(ticks $mpid); t0=$(date +%s.%N)
sleep "$MEASURE"
p1=$(ticks $ppid); m1=$(ticks $mpid); t1=$(date +%s.%N)
end=$(python3 -c "print(f'{float(\"$t1\"):.3f}')")
q() { curl -sf "$1/api/v1/query" --data-urlencode "query=$2" --data-urlencode "time=$end" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "nan")'; }
win=$(python3 -c "print(int(round($t1 - $t0)))")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
python3 - "$(getconf CLK_TCK)" "$p0" "$p1" "$m0" "$m1" "$t0" "$t1" \
  "$(q "http://127.0.0.1:$pp" "sum(sum_over_time(scrape_samples_scraped{job=\"bench\"}[${win}s]))")" \
  "$(q "http://127.0.0.1:$mp" "sum(sum_over_time(scrape_samples_scraped{job=\"bench\"}[${win}s]))")" \
  "$(q "http://127.0.0.1:$pp" "avg(avg_over_time(scrape_duration_seconds{job=\"bench\"}[${win}s]))")" \
  "$(q "http://127.0.0.1:$mp" "avg(avg_over_time(scrape_duration_seconds{job=\"bench\"}[${win}s]))")" \
  "$(rss $ppid)" "$(rss $mpid)" "$(hwm $ppid)" "$(hwm $mpid)" <<'EOF'
import sys
tck, p0, p1, m0, m1, t0, t1, ps, ms, pd, md, pr, mr, ph, mh = sys.argv[1:]
tck = float(tck); wall = float(t1) - float(t0)
pc, mc = (float(p1) - float(p0)) / tck, (float(m1) - float(m0)) / tck
ps, ms, pd, md = float(ps), float(ms), float(pd), float(md)
rows = [
    ("samples scraped in window", ps, ms, "", "{:,.0f}"),
    ("CPU seconds in window", pc, mc, "", "{:.2f}"),
    ("CPU % of one core", 100 * pc / wall, 100 * mc / wall, "", "{:.1f}"),
    ("CPU µs per scraped sample", 1e6 * pc / ps if ps else float("nan"),
     1e6 * mc / ms if ms else float("nan"), "<= 0.5x", "{:.3f}"),
    ("scrape duration ms (avg)", 1e3 * pd, 1e3 * md, "<= 1x", "{:.2f}"),
    ("RSS MiB (end)", float(pr) / 1024, float(mr) / 1024, "<= 0.5x", "{:.1f}"),
    ("peak RSS MiB", float(ph) / 1024, float(mh) / 1024, "", "{:.1f}"),
]
print(f"{'figure':<28} {'pharos':>12} {'prometheus':>12} {'ratio':>7}  goal")
for name, a, b, goal, fmt in rows:
    ratio = a / b if b else float("nan")
    print(f"{name:<28} {fmt.format(a):>12} {fmt.format(b):>12} {ratio:>7.2f}  {goal}")
EOF
