#!/usr/bin/env bash
# SIPp benchmarks of the daemon on loopback (answer delay 0, release build).
#
#   scripts/bench.sh cps RATE [RATE...]      short answered, recorded calls at each rate
#                                            (10 s of calls per rate); prints failed calls,
#                                            retransmissions, daemon and SIPp CPU, peak RSS
#                                            and the time from INVITE to 200 (p50, p99, max)
#   scripts/bench.sh concurrent N [SECONDS]  N calls each streaming 20 ms G.711 RTP for
#                                            SECONDS (default 60); prints daemon CPU per call,
#                                            RSS, RTP loss seen by the daemon, WAV check
#   scripts/bench.sh bridged N [SECONDS]     N callers asking for a person (key 0), each put
#                                            through to its own operator (N operators registered
#                                            with digest, their phones one SIPp UAS streaming RTP
#                                            back), SECONDS (default 60) of RTP both ways through
#                                            the daemon, recorded in stereo; prints daemon CPU per
#                                            bridged call, RSS, RTP loss on both legs, WAV check
#   scripts/bench.sh pop [SECONDS] [OWNERS]  OWNERS (default 1,000,000) in the archive, 20
#                                            operators on the live WebSocket with phones that ring
#                                            (examples/screen_pop), callers from the archive asking
#                                            for a person at 20 calls/s for SECONDS (default 40);
#                                            prints the time from the INVITE at the phone to the
#                                            call.offered read on the operator's socket
#   scripts/bench.sh register RATE [SECONDS] [USERS]
#                                            USERS phones (default 1000) keeping their
#                                            digest-authenticated registrations, refreshed
#                                            in turn at RATE REGISTERs/s for SECONDS (default
#                                            20) by examples/register_load; prints daemon CPU
#                                            per REGISTER, % of one core (all and the SIP
#                                            thread alone), RSS and the generator's counts
#
# Needs sipp (Debian sip-tester). Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/bench.sh cps RATE... | concurrent N [SECONDS] | bridged N [SECONDS] | pop [SECONDS] [OWNERS] | register RATE [SECONDS] [USERS]}
shift

if [ "$mode" = register ] || [ "$mode" = bridged ]; then
  cargo build --release --quiet --bin hotline --example register_load
elif [ "$mode" = pop ]; then
  cargo build --release --quiet --bin hotline --example screen_pop --example archive_import
else
  cargo build --release --quiet
fi
# HOTLINE_BENCH_DIR: where the data directory (database, recordings) goes;
# default /tmp.
work=$(mktemp -d "${HOTLINE_BENCH_DIR:-/tmp}/hotline-bench.XXXXXX")
sed -e 's/answer_delay = "1s"/answer_delay = "0s"/' \
    -e "s|prompts_dir = \"prompts\"|prompts_dir = \"$PWD/config/prompts\"|" \
    -e 's/max_connections = 8/max_connections = 4/' \
    config/hotline.toml > "$work/hotline.toml"

start_daemon() {
  HOTLINE_LOG=${HOTLINE_LOG:-warn,hotline::telephony=info} target/release/hotline serve \
    --config "$work/hotline.toml" --data-dir "$work/data" \
    --sip-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --rtp-ports 20000-39999 \
    >"$work/stdout" 2>"$work/daemon.log" &
  daemon=$!
  for _ in $(seq 1 100); do
    if grep -q '^ready ' "$work/stdout" 2>/dev/null; then break; fi
    sleep 0.1
  done
  sip=$(sed -n 's/^ready sip=\([^ ]*\).*/\1/p' "$work/stdout")
  [ -n "$sip" ] || { echo "daemon did not start"; cat "$work/daemon.log"; exit 1; }
}
stop_daemon() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$daemon/status"; }
hz=$(getconf CLK_TCK)
# HOTLINE_BENCH_KEEP=1 keeps the data directory (and the daemon log) for a look.
trap 'stop_daemon; [ -n "${HOTLINE_BENCH_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT

stat_field() { # file column-name: last row's value of that column
  python3 - "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
head, last = rows[0], rows[-1]
print(last[head.index(sys.argv[2])])
PY
}

case "$mode" in
cps)
  # answer_*_ms: INVITE to 200 as SIPp saw it (its RTD 1), per call.
  printf '%-8s %-8s %-8s %-8s %-10s %-12s %-12s %-10s %-16s %-16s %-16s\n' rate calls ok failed retrans \
    cpu_%core sipp_%core peak_rss_MB answer_p50_ms answer_p99_ms answer_max_ms
  # SIPp runs in the work directory, where -trace_rtt writes its file.
  cp tests/sipp/uac_short_call.xml "$work/"
  for rate in "$@"; do
    start_daemon
    calls=$((rate * 10))
    rm -f "$work"/uac_short_call_*_rtt.csv
    before=$(cpu_ticks); t0=$(date +%s.%N)
    # -buff_size: SIPp's own socket buffers (128 KiB by default) hold a few
    # milliseconds of these rates; when SIPp, sharing the two cores, is off
    # the CPU that long the kernel drops our responses at its socket (ss -uam
    # shows them in its d counter) and SIPp counts retransmissions that the
    # daemon never caused. 4 MiB takes that out of the measurement.
    (cd "$work" && /usr/bin/time -f '%U %S' -o "$work/sipp.time" timeout 120 sipp -sf uac_short_call.xml -s hotline -t u1 \
      -i 127.0.0.1 -mi 127.0.0.1 -mp 16000 -p 15060 -d 0 -r "$rate" -m "$calls" -l $((rate * 4)) -timeout 90s \
      -nostdin -buff_size 4194304 -trace_stat -stf "$work/stat.csv" -fd 1 -trace_rtt -rtt_freq 1 "$sip" \
      >/dev/null 2>&1) || true
    t1=$(date +%s.%N); after=$(cpu_ticks)
    ok=$(stat_field "$work/stat.csv" 'SuccessfulCall(C)')
    failed=$(stat_field "$work/stat.csv" 'FailedCall(C)')
    retrans=$(stat_field "$work/stat.csv" 'Retransmissions(C)')
    cpu=$(python3 -c "print(round(100*($after-$before)/$hz/($t1-$t0),1))")
    sipp_cpu=$(python3 -c "u, s = open('$work/sipp.time').read().split()[-2:]; print(round(100*(float(u)+float(s))/($t1-$t0),1))")
    peak=$(( $(hwm_kb) / 1024 ))
    answer=$(python3 - "$work"/uac_short_call_*_rtt.csv <<'PY'
import sys
times = sorted(float(line.split(';')[1]) for path in sys.argv[1:]
               for line in open(path).read().splitlines()[1:] if line.endswith(';1'))
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] if times else float('nan')
print(f'{pick(0.5):<16g} {pick(0.99):<16g} {times[-1] if times else float("nan"):<16g}')
PY
)
    printf '%-8s %-8s %-8s %-8s %-10s %-12s %-12s %-10s %s\n' "$rate" "$calls" "$ok" "$failed" "$retrans" "$cpu" "$sipp_cpu" "$peak" "$answer"
    stop_daemon
  done
  ;;
concurrent)
  n=${1:?number of calls}; seconds=${2:-60}
  start_daemon
  rate=$(( n < 100 ? n : 100 ))
  timeout $((seconds + n / rate + 120)) sipp -sf tests/sipp/uac_long_call.xml -s hotline -t u1 \
    -i 127.0.0.1 -mi 127.0.0.1 -mp 16000 -p 15060 -d $((seconds * 1000)) -r "$rate" -m "$n" -l "$n" \
    -timeout $((seconds + 90))s -nostdin -trace_stat -stf "$work/stat.csv" -fd 5 "$sip" \
    >/dev/null 2>&1 &
  sipp_pid=$!
  # Measure over the middle of the run, when all calls are up.
  ramp=$(( n / rate + 5 ))
  sleep "$ramp"
  window=$(( seconds - ramp - 5 )); [ "$window" -gt 5 ] || window=5
  before=$(cpu_ticks); sleep "$window"; after=$(cpu_ticks)
  rss=$(( $(rss_kb) / 1024 ))
  wait "$sipp_pid" || true
  sleep 2
  stop_daemon
  ok=$(stat_field "$work/stat.csv" 'SuccessfulCall(C)')
  failed=$(stat_field "$work/stat.csv" 'FailedCall(C)')
  cpu=$(python3 -c "print(round(100*($after-$before)/$hz/$window,2))")
  per_call=$(python3 -c "print(round(100*($after-$before)/$hz/$window/$n,4))")
  lost=$( (grep -o 'packets_lost=[0-9]*' "$work/daemon.log" || true) | awk -F= '{s+=$2} END {print s+0}')
  received=$( (grep -o 'packets_received=[0-9]*' "$work/daemon.log" || true) | awk -F= '{s+=$2} END {print s+0}')
  wavs=$(target/release/hotline calls list --json --limit 100000 --config "$work/hotline.toml" \
    --data-dir "$work/data" | python3 -c "
import json, sys, wave, os
calls = json.load(sys.stdin)
bad = 0
for c in calls:
    path = os.path.join('$work/data/recordings', c['recording_path'] or '')
    try:
        with wave.open(path) as w:
            ms = w.getnframes() * 1000 / w.getframerate()
        if abs(ms - (c['ended_at'] - c['answered_at'])) > 100: bad += 1
    except Exception:
        bad += 1
print(f'{len(calls) - bad}/{len(calls)}')")
  echo "calls=$n ok=$ok failed=$failed cpu_total=${cpu}%core cpu_per_call=${per_call}%core rss=${rss}MB rtp_received=$received rtp_lost=$lost wav_complete=$wavs"
  ;;
bridged)
  n=${1:?number of calls}; seconds=${2:-60}
  password=bench-secret-99
  load=target/release/examples/register_load
  realm=$(sed -n 's/^realm = "\(.*\)"/\1/p' "$work/hotline.toml" | head -1)
  # Operators wait for no wrap-up; nobody is set on break; no keep-alives
  # (the phones' SIPp answers OPTIONS with nothing).
  sed -i -e 's/^wrap_up = .*/wrap_up = "0s"/' -e 's/^keepalive = .*/keepalive = "0s"/' \
    -e 's/^max_wait = .*/max_wait = "600s"/' "$work/hotline.toml"
  "$load" --create-in "$work/data" --users "$n" --password "$password" --realm "$realm" >/dev/null
  start_daemon
  phones=15299
  "$load" --target "$sip" --users "$n" --password "$password" --rate "$n" --seconds 1 \
    --from-port "$phones" >"$work/register.out"
  grep -q "ok_200=$n " "$work/register.out" || { echo "registration failed:"; cat "$work/register.out"; exit 1; }
  timeout $((seconds + n / 20 + 150)) sipp -sf tests/sipp/uas_bench_operator.xml -i 127.0.0.1 \
    -p "$phones" -mi 127.0.0.1 -mp 18000 -m "$n" -timeout $((seconds + n / 20 + 120))s -nostdin \
    -trace_stat -stf "$work/uas.csv" -fd 5 >/dev/null 2>&1 &
  uas_pid=$!
  rate=$(( n < 20 ? n : 20 ))
  timeout $((seconds + n / rate + 120)) sipp -sf tests/sipp/uac_bench_queue.xml -s hotline -t u1 \
    -i 127.0.0.1 -mi 127.0.0.1 -mp 16000 -p 15060 -d $((seconds * 1000)) -r "$rate" -m "$n" -l "$n" \
    -timeout $((seconds + 90))s -nostdin -trace_stat -stf "$work/stat.csv" -fd 5 "$sip" \
    >/dev/null 2>&1 &
  sipp_pid=$!
  ramp=$(( n / rate + 8 ))
  sleep "$ramp"
  window=$(( seconds - ramp - 5 )); [ "$window" -gt 5 ] || window=5
  before=$(cpu_ticks); sleep "$window"; after=$(cpu_ticks)
  rss=$(( $(rss_kb) / 1024 ))
  wait "$sipp_pid" || true
  wait "$uas_pid" || true
  sleep 2
  stop_daemon
  ok=$(stat_field "$work/stat.csv" 'SuccessfulCall(C)')
  failed=$(stat_field "$work/stat.csv" 'FailedCall(C)')
  phones_ok=$(stat_field "$work/uas.csv" 'SuccessfulCall(C)')
  cpu=$(python3 -c "print(round(100*($after-$before)/$hz/$window,2))")
  per_call=$(python3 -c "print(round(100*($after-$before)/$hz/$window/$n,4))")
  sum_of() { (grep "$1" "$work/daemon.log" | grep -o "$2=[0-9]*" || true) | awk -F= '{s+=$2} END {print s+0}'; }
  caller_lost=$(sum_of 'media ended' packets_lost)
  caller_received=$(sum_of 'media ended' packets_received)
  leg_lost=$(sum_of "operator's leg ended" packets_lost)
  leg_received=$(sum_of "operator's leg ended" packets_received)
  wavs=$(target/release/hotline calls list --json --limit 100000 --config "$work/hotline.toml" \
    --data-dir "$work/data" | python3 -c "
import json, sys, wave, os, math
calls = json.load(sys.stdin)
bad = answered = 0
for c in calls:
    if c.get('queue_outcome') == 'answered': answered += 1
    path = os.path.join('$work/data/recordings', c['recording_path'] or '')
    try:
        with wave.open(path) as w:
            frames = w.getnframes()
            ms = frames * 1000 / w.getframerate()
            # The operator's channel (right) in the last tenth must not be silent.
            w.setpos(int(frames * 0.9))
            data = w.readframes(frames // 10)
        right = [int.from_bytes(data[i + 2:i + 4], 'little', signed=True) for i in range(0, len(data), 4)]
        loud = math.sqrt(sum(x * x for x in right) / max(len(right), 1)) > 300
        if abs(ms - (c['ended_at'] - c['answered_at'])) > 100 or not loud: bad += 1
    except Exception:
        bad += 1
print(f'{len(calls) - bad}/{len(calls)} answered={answered}')")
  echo "calls=$n ok=$ok failed=$failed phones_ok=$phones_ok cpu_total=${cpu}%core cpu_per_bridged_call=${per_call}%core rss=${rss}MB caller_rtp_received=$caller_received caller_rtp_lost=$caller_lost operator_rtp_received=$leg_received operator_rtp_lost=$leg_lost wav_complete=$wavs"
  ;;
pop)
  seconds=${1:-40}; owners=${2:-1000000}; operators=20; rate=20
  password=bench-secret-99
  sed -i -e 's/^keepalive = .*/keepalive = "0s"/' -e 's/^max_wait = .*/max_wait = "600s"/' \
    -e 's/^wrap_up = .*/wrap_up = "0s"/' "$work/hotline.toml"
  python3 scripts/gen-archive.py "$owners" "$work/owners.csv"
  target/release/examples/archive_import "$work/owners.csv" "$work/data" >/dev/null
  # Callers the archive knows: row i's mobile is 13 and i in nine digits.
  python3 - "$owners" "$work/callers.csv" <<'PY'
import random, sys
owners, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
with open(out, "w") as f:
    f.write("RANDOM\n")
    for _ in range(5000):
        f.write(f"13{rng.randrange(owners):09d}\n")
PY
  start_daemon
  http=$(sed -n 's/^ready .*http=\([^ ]*\).*/\1/p' "$work/stdout")
  cli() { target/release/hotline "$@" --config "$work/hotline.toml" --data-dir "$work/data"; }
  for i in $(seq -w 1 $operators); do
    echo "$password" | cli users add "pop$i" --role operator >/dev/null
    echo "$password" | cli users sip-password "pop$i" >/dev/null
  done
  calls=$((rate * (seconds - 10)))
  target/release/examples/screen_pop --sip "$sip" --http "$http" --operators "$operators" \
    --prefix pop --password "$password" --seconds "$seconds" >"$work/pop.out" 2>&1 &
  pop_pid=$!
  for _ in $(seq 1 100); do grep -q '^ready' "$work/pop.out" 2>/dev/null && break; sleep 0.1; done
  before=$(cpu_ticks)
  timeout $((seconds + 60)) sipp -sf tests/sipp/uac_bench_pop.xml -s hotline -t u1 -i 127.0.0.1 \
    -mi 127.0.0.1 -mp 16000 -p 15060 -r "$rate" -m "$calls" -l 200 -inf "$work/callers.csv" \
    -key digit 0 -key menu_ms 200 -key wait_ms 800 -timeout $((seconds + 30))s -nostdin \
    -trace_stat -stf "$work/stat.csv" -fd 5 "$sip" >/dev/null 2>&1 || true
  after=$(cpu_ticks)
  wait "$pop_pid" || true
  rss=$(( $(rss_kb) / 1024 ))
  stop_daemon
  ok=$(stat_field "$work/stat.csv" 'SuccessfulCall(C)')
  failed=$(stat_field "$work/stat.csv" 'FailedCall(C)')
  echo "owners=$owners operators=$operators calls=$calls ok=$ok failed=$failed rss=${rss}MB"
  tail -1 "$work/pop.out"
  ;;
register)
  rate=${1:?REGISTERs per second}; seconds=${2:-20}; users=${3:-1000}
  password=bench-secret-99
  load=target/release/examples/register_load
  realm=$(sed -n 's/^realm = "\(.*\)"/\1/p' "$work/hotline.toml" | head -1)
  "$load" --create-in "$work/data" --users "$users" --password "$password" --realm "$realm"
  start_daemon
  sip_tid=$(grep -l '^hotline-sip$' /proc/"$daemon"/task/*/comm | head -1 | cut -d/ -f5)
  sip_ticks() { awk '{print $14 + $15}' "/proc/$daemon/task/$sip_tid/stat"; }
  before=$(cpu_ticks); sip_before=$(sip_ticks); t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$work/load.time" timeout $((seconds + 60)) "$load" \
    --target "$sip" --users "$users" --password "$password" --rate "$rate" \
    --seconds "$seconds" >"$work/load.out"
  t1=$(date +%s.%N); after=$(cpu_ticks); sip_after=$(sip_ticks)
  rss=$(( $(rss_kb) / 1024 ))
  stop_daemon
  sent=$(grep -o 'sent=[0-9]*' "$work/load.out" | head -1 | cut -d= -f2)
  python3 - "$hz" "$before" "$after" "$sip_before" "$sip_after" "$t0" "$t1" "$sent" "$work/load.time" <<'PY'
import sys
hz, before, after, sip_before, sip_after, t0, t1, sent = map(float, sys.argv[1:9])
user, system = map(float, open(sys.argv[9]).read().split()[-2:])
wall = t1 - t0
cpu = (after - before) / hz
sip = (sip_after - sip_before) / hz
per = 1e6 * cpu / max(sent, 1)
print(f"daemon_cpu={100 * cpu / wall:.1f}%core sip_thread_cpu={100 * sip / wall:.1f}%core "
      f"cpu_per_register={per:.1f}us registers_per_core_s={1e6 / per if per else 0:.0f} "
      f"generator_cpu={100 * (user + system) / wall:.1f}%core wall={wall:.1f}s")
PY
  echo "rss=${rss}MB"
  cat "$work/load.out"
  problems=$(grep -c -E ' (WARN|ERROR) ' "$work/daemon.log" || true)
  echo "daemon_log_warnings_and_errors=$problems"
  grep -E ' (WARN|ERROR) ' "$work/daemon.log" | sed -E 's/^[^ ]+ +//' | sort | uniq -c | sort -rn | head -5 || true
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
