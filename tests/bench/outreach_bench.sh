#!/usr/bin/env bash
# End-to-end benchmark of voc-outreach (tests/bench/README.md, section "outreach").
#
#   tests/bench/outreach_bench.sh [--students N] [--seconds S] [--stalls K]
#       [--per-room M] [--lines L] [--partitions P] [--seed X] [--build DIR] [--keep]
#   tests/bench/outreach_bench.sh --report DIR    # the table again, from a run kept with --keep
#
# N students (default 100000) in N/M classrooms of M students (default 10) plus one teacher
# each, on L network lines (default: one line per 50 classrooms), send one heartbeat per 5 s
# for S seconds (default 180) through voc-bus into voc-outreach, paced to the wall clock
# (vocctl simulate --realtime). K incidents (default 100) are injected after a warm-up:
# mostly single-student stalls, a few teacher stalls, one or two line failures. The script
# then reports heartbeats/s, heartbeat-to-task latency, precision and recall against the
# simulator's --truth file, and voc-outreach's peak resident memory and CPU; it stops by
# itself (a watchdog ends it S + 390 s after the start at the latest) and tears down what
# it started: voc-bus, voc-outreach, the simulator and a throw-away PostgreSQL cluster
# (pg_virtualenv -t -o fsync=on). Binaries come from --build (default $VOC_BUILD or
# build/bench in the tree), configured and built there first if missing. Exit 0 when the run
# completed (whatever the figures), 1 when it could not be run. --keep keeps the run's
# directory (/tmp/outreach_bench.*: logs, tasks, truth, raw measures) for --report.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
students=100000 seconds=180 stalls=100 per_room=10 lines="" partitions=128 seed=1 keep=0
build=${VOC_BUILD:-$root/build/bench}
orig_args=("$@")
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
report_dir=""
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
while [ $# -gt 0 ]; do
  case $1 in
    --students) students=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --stalls) stalls=$2; shift 2 ;;
    --per-room) per_room=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --report) report_dir=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "outreach_bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for v in students seconds stalls per_room partitions seed; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "outreach_bench: --${v/_/-} must be a number" >&2; exit 2; }
done
rooms=$((students / per_room))
[ -n "$lines" ] || lines=$(( rooms / 50 > 0 ? rooms / 50 : 1 ))
(( rooms >= 4 && seconds >= 45 && stalls >= 1 && lines >= 1 )) ||
  { echo "outreach_bench: need >= 4 classrooms, --seconds >= 45, --stalls >= 1" >&2; exit 2; }

# ---- the report: everything from the files in a run directory ----
report() { # dir
  local work=$1
  # shellcheck disable=SC1091
  . "$work/measures"
  rm -f "$work/lat" "$work/fp" "$work/match"
  sent_line=$(grep -E 'heartbeats from [0-9]+ clients' "$work/sim.log" | tail -1 || true)
  sent=$(sed -nE 's/.* ([0-9]+) heartbeats from .*/\1/p' <<<"$sent_line")
  sim_secs=$(sed -nE 's/.* in ([0-9.]+) s: .*/\1/p' <<<"$sent_line")
  sim_rate=$(sed -nE 's/.*: ([0-9]+) heartbeats\/s.*/\1/p' <<<"$sent_line")
  clients=$(sed -nE 's/.* from ([0-9]+) clients.*/\1/p' <<<"$sent_line")
  consumed=$(grep 'event=totals' "$work/voc-outreach.log" | tail -1 | sed -nE 's/.*heartbeats=([0-9]+).*/\1/p')
  deadl=$(grep 'event=totals' "$work/voc-outreach.log" | tail -1 | sed -nE 's/.*deadlettered=([0-9]+).*/\1/p')
  det_mem=$(grep 'event=totals' "$work/voc-outreach.log" | sed -nE 's/.*memory_bytes=([0-9]+).*/\1/p' | sort -n | tail -1)
  read -r sim_u sim_s sim_e <"$work/sim.time" || { sim_u=0 sim_s=0 sim_e=0; }
  wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}')
  o_cpu=$(awk -v a="$o_cpu0" -v b="$o_cpu1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
  b_cpu=$(awk -v a="$b_cpu0" -v b="$b_cpu1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
  sim_cpu=$(awk -v u="$sim_u" -v s="$sim_s" 'BEGIN {printf "%.1f", u + s}')
  m_busy=$(awk -v a="$m_busy0" -v b="$m_busy1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
  share() { awk -v c="$1" -v w="$wall_s" 'BEGIN {printf "%.0f%%", (w > 0 ? 100 * c / w : 0)}'; }
  others=$(awk -v m="$m_busy" -v a="$o_cpu" -v b="$b_cpu" -v c="$sim_cpu" 'BEGIN {printf "%.1f", m - a - b - c}')

  # Match tasks to the truth; latencies go to $work/lat as "group kind ms".
  awk -v I="$interval" -v G="$grace" -v L="$lines" -v incident_ms=900000 \
    -v specs="$work/specs" -v truth="$work/truth.ndjson" -v phases="$work/phases" \
    -v latf="$work/lat" -v fpf="$work/fp" '
  BEGIN {
    FS = "|";
    n = 0;
    while ((getline ln < specs) > 0) {
      split(ln, f, " "); n++;
      kind[n] = f[1]; room[n] = f[2]; stu[n] = f[3]; line[n] = f[4]; at[n] = f[5]; dur[n] = f[6];
      lvl = f[1] == "teacher" ? "classroom" : f[1];
      key[n] = lvl "|" f[7]; idx[key[n]] = n;
      if (f[1] == "line") { failing["line-" f[4]] = n }
    }
    t = 0;
    while ((getline ln < truth) > 0) {
      t++;
      s = ln; sub(/.*"start_ms":/, "", s); sub(/[^0-9].*/, "", s);
      if (t == 1) start = s - at[1];
      tsubj = ln; sub(/.*"subject":"/, "", tsubj); sub(/".*/, "", tsubj);
      if (key[t] !~ ("\\|" tsubj "$")) { print "truth mismatch at line " t > "/dev/stderr"; bad = 1 }
    }
    if (t != n) { print "truth has " t " incidents, expected " n > "/dev/stderr"; bad = 1 }
    # The true first stalled heartbeat of each incident: the earliest window end e = phase + k*I
    # of a covered client whose midpoint e - I/2 lies in the stall (simulate.h).
    while ((getline ln < phases) > 0) {
      split(ln, f, " "); who = f[1]; r = f[2] + 0; ph = f[3] + 0;
      for (i = 1; i <= n; i++) {
        if (kind[i] == "student" && who != ("s-" room[i] "-" stu[i])) continue;
        if (kind[i] == "teacher" && r != room[i]) continue;
        if (kind[i] == "line" && (r % L) != line[i]) continue;
        k = (2 * at[i] + I - 2 * ph) / (2 * I); kk = int(k); if (kk < k) kk++; if (kk < 0) kk = 0;
        e = ph + kk * I;
        if (!(i in first) || e < first[i]) first[i] = e;
      }
    }
  }
  {
    id = $1; lvl = $2; subj = $3; ln_ = $5; fb = $6; det = $7; cr = $8;
    ntask[lvl]++; ntasks++;
    asis = cr - fb; held = lvl != "line";
    print lvl, "asis", asis > latf; print "all", "asis", asis > latf;
    print lvl, "nograce", asis - (held ? G : 0) > latf; print "all", "nograce", asis - (held ? G : 0) > latf;
    print lvl, "decide", det - fb > latf;
    k = lvl "|" subj;
    if ((k in idx) && !(k in matched)) {
      matched[k] = 1; tp++; i = idx[k];
      if (i in first) {
        vt = cr - (start + first[i]);
        print lvl, "truth", vt > latf; print "all", "truth", vt > latf;
        print lvl, "asis_tp", asis > latf;
        print lvl, "truthng", vt - (held ? G : 0) > latf; print "all", "truthng", vt - (held ? G : 0) > latf;
        if (fb < start + first[i]) { early[lvl]++; earlysum[lvl] += start + first[i] - fb }
      }
      next;
    }
    fpl[lvl]++;
    if (k in idx) { dup++; print "duplicate", $0 > fpf; next }
    if (ln_ in failing) {
      i = failing[ln_];
      if (cr >= start + at[i] && cr <= start + at[i] + dur[i] + incident_ms) {
        online++; print "on-failing-line", $0 > fpf; next
      }
    }
    other++; print "healthy-client", $0 > fpf;
  }
  END {
    for (i = 1; i <= n; i++) { nk[kind[i]]++; if (key[i] in matched) dk[kind[i]]++ }
    fp = dup + online + other;
    printf "truth %d %d %d %d %.0f %d\n", n, nk["student"], nk["teacher"], nk["line"], start, bad;
    printf "detected %d %d %d %d\n", tp, dk["student"] + 0, dk["teacher"] + 0, dk["line"] + 0;
    printf "tasks %d %d %d %d\n", ntasks, ntask["student"] + 0, ntask["classroom"] + 0, ntask["line"] + 0;
    printf "fp %d %d %d %d\n", fp, dup + 0, online + 0, other + 0;
    printf "fplevel %d %d %d\n", fpl["student"], fpl["classroom"], fpl["line"];
    printf "prec %s\n", ntasks ? sprintf("%.4f", tp / ntasks) : "n/a";
    printf "recall %s\n", n ? sprintf("%.4f", tp / n) : "n/a";
    for (l in early) printf "early %s %d %.1f\n", l, early[l], earlysum[l] / early[l] / 1000;
  }' "$work/tasks" >"$work/match"

  # p50 / p99 / max (nearest rank) of each group and kind, in seconds.
  pct() { # group kind -> "p50 / p99 / max (n)"
    awk -v g="$1" -v k="$2" '$1 == g && $2 == k {print $3}' "$work/lat" 2>/dev/null | sort -n |
      awk '{v[NR] = $1} END {
        if (!NR) {print "-"; exit}
        a = int(0.5 * NR); if (a < 0.5 * NR) a++; b = int(0.99 * NR); if (b < 0.99 * NR) b++;
        printf "%.2f / %.2f / %.2f s (n=%d)", v[a] / 1000, v[b] / 1000, v[NR] / 1000, NR }'
  }
  touch "$work/lat" "$work/fp"
  m() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$work/match"; }
  resets=$(grep -c 'offset reset' "$work/voc-outreach.log" || true)
  rate_consumed=$(awk -v c="${consumed:-0}" -v s="${sim_secs:-0}" 'BEGIN {printf "%.0f", (s > 0 ? c / s : 0)}')
  lost=$(( ${sent:-0} - ${consumed:-0} ))

  {
    echo
    echo "## outreach_bench: $students students ($rooms classrooms x $per_room + 1 teacher = ${clients:-?} clients, $lines lines), $seconds s, seed $seed, $partitions partitions, grace $((grace / 1000)) s"
    echo
    echo "| measure | value | target |"
    echo "| --- | --- | --- |"
    echo "| heartbeats sent (simulator, realtime) | ${sent:-?} in ${sim_secs:-?} s = **${sim_rate:-?}/s** | 20,000/s |"
    echo "| heartbeats consumed by voc-outreach | ${consumed:-?} (${rate_consumed}/s; not consumed: $lost; dead-lettered: ${deadl:-?}) | all |"
    echo "| partition offset resets (voc-bus dropped unread heartbeats) | $resets | 0 |"
    echo "| injected incidents (student / teacher / line) | $(m truth 2) ($(m truth 3) / $(m truth 4) / $(m truth 5)) | |"
    echo "| detected (student / teacher / line) | $(m detected 2) ($(m detected 3) / $(m detected 4) / $(m detected 5)) | |"
    echo "| tasks (student / classroom / line level) | $(m tasks 2) ($(m tasks 3) / $(m tasks 4) / $(m tasks 5)); events published: $published | |"
    echo "| false positives (duplicate / on a failing line / healthy client) | $(m fp 2) ($(m fp 3) / $(m fp 4) / $(m fp 5)) | |"
    echo "| ... by level (student / classroom / line) | $(m fplevel 2) / $(m fplevel 3) / $(m fplevel 4) | |"
    echo "| **precision** | **$(m prec 2)** | >= 0.99 |"
    echo "| **recall** | **$(m recall 2)** | >= 0.99 |"
    for g in student classroom line all; do
      echo "| latency $g: created_at - first_bad_at, p50 / p99 / max | $(pct $g asis) | p99 <= 1 s |"
    done
    for g in student classroom all; do
      echo "| latency $g minus the ${grace} ms grace (line tasks are not held) | $(pct $g nograce) | p99 <= 1 s |"
    done
    for g in student classroom line; do
      echo "| latency $g as is, true detections only | $(pct $g asis_tp) | |"
    done
    for g in student classroom line; do
      echo "| latency $g vs the true first stalled heartbeat (truth) | $(pct $g truth) | |"
    done
    echo "| ... the same minus the grace, all levels | $(pct all truthng) | |"
    for g in student classroom line; do
      echo "| detected_at - first_bad_at (event time), $g | $(pct $g decide) | |"
    done
    while read -r _ l c avg; do
      echo "| $l tasks whose first_bad_at is earlier than the truth's first stalled heartbeat | $c, by $avg s on average | 0 |"
    done < <(grep '^early' "$work/match" || true)
    echo "| voc-outreach peak RSS (VmHWM) | **$((hwm_kb * 1024 / 1000000)) MB** = $((hwm_kb / 1024)) MiB (RSS at the end $((rss_kb / 1024)) MiB; detector's own count $(awk -v b="${det_mem:-0}" 'BEGIN {printf "%.1f", b / 1048576}') MiB) | <= 256 MB |"
    echo "| voc-outreach CPU (utime+stime) | ${o_cpu} s over ${wall_s} s = **$(share "$o_cpu") of one core** | |"
    echo "| voc-outreach CPU per heartbeat consumed | $(awk -v c="$o_cpu" -v n="${consumed:-0}" 'BEGIN {printf "%.0f", (n > 0 ? c * 1e6 / n : 0)}') us | |"
    echo "| voc-bus CPU | ${b_cpu} s = $(share "$b_cpu") of one core | |"
    echo "| simulator CPU | ${sim_cpu} s over ${sim_e} s | |"
    echo "| machine busy, all $ncpu cores (PostgreSQL, CI and anything else: ${others} s) | ${m_busy} s = $(share "$m_busy") of one core | |"
    echo
  } | tee "$work/table.md"
  if [ -s "$work/fp" ]; then
    echo "false positives (first 10; kind|task_id|level|subject|classroom|line|first_bad|detected|created):"
    head -10 "$work/fp"
  fi
  [ "$(m truth 7)" = 0 ] || log "warning: the truth file does not match the injected specs"
  echo "busiest processes half-way through:"; cat "$work/ps.mid" 2>/dev/null || true
}

if [ -n "$report_dir" ]; then
  [ -s "$report_dir/measures" ] || { echo "outreach_bench: no measures in $report_dir" >&2; exit 2; }
  report "$report_dir"
  exit 0
fi

# ---- outside: build if needed, then run the rest inside a throw-away cluster ----
if [ -z "${OUTREACH_BENCH_INNER:-}" ]; then
  if [ ! -x "$build/voc-outreach" ] || [ ! -x "$build/vocctl" ] || [ ! -x "$build/voc-bus" ]; then
    echo "== building into $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOC_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
  fi
  export OUTREACH_BENCH_INNER=1 VOC_BUILD=$build
  exec pg_virtualenv -t -o fsync=on "$0" "${orig_args[@]}"
fi

# ---- inside pg_virtualenv: PG* point at the throw-away cluster ----
cfg=$root/deploy/config
interval=5000
grace=$(awk '/^line:/ {f = 1} f && /^  grace_ms:/ {print $2; exit}' "$cfg/outreach.yaml")
grace=${grace:-1000} # the built-in default when the key is absent
work=$(mktemp -d /tmp/outreach_bench.XXXXXX)
hz=$(getconf CLK_TCK) ncpu=$(nproc)
bus_pid="" outreach_pid="" sim_pid="" watchdog_pid="" mid_pid=""

stop_pid() { # pid: TERM, up to 15 s, then KILL
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
stop_helper() { # a background subshell of ours: its sleep first, or that would linger
  [ -n "$1" ] || return 0
  for c in $(pgrep -P "$1" || true); do kill "$c" 2>/dev/null || true; done
  kill "$1" 2>/dev/null || true
}
cleanup() {
  # The simulator runs under /usr/bin/time, which a TERM would kill without its child.
  if [ -n "$sim_pid" ]; then
    for c in $(pgrep -P "$sim_pid" || true); do kill -TERM "$c" 2>/dev/null || true; done
  fi
  stop_pid "$sim_pid"; stop_pid "$outreach_pid"; stop_pid "$bus_pid"
  stop_helper "$mid_pid"; stop_helper "$watchdog_pid"
  if [ "$keep" = 1 ]; then log "logs and data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM
# The watchdog: whatever hangs, the run ends (and cleans up) by S + 390 s.
( sleep $((seconds + 390)) </dev/null >/dev/null 2>&1; echo "outreach_bench: watchdog: giving up" >&2; kill -TERM $$ ) &
watchdog_pid=$!

cpu_ticks() { # pid -> utime + stime in clock ticks (fields 14, 15; after the ")" of comm)
  awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0
}
machine_ticks() { # busy total (all CPUs)
  awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}
now_ms() { date +%s%3N; }

export VOC_PG_DSN="host=$PGHOST dbname=$PGDATABASE application_name=outreach_bench"
bin=$build
log "work dir $work; $students students = $rooms classrooms x $per_room (+1 teacher) on $lines lines," \
  "$seconds s, $stalls incidents, $partitions partitions, grace ${grace} ms"

# ---- the injected incidents (deterministic for --seed) ----
# Mostly students, ~8% teachers (at least 1), 1 line failure (2 from 40 incidents). Classrooms
# of student/teacher stalls are distinct and never on a failing line, so every task on a
# failing line can only be the line's. Starts are spread evenly from the warm-up (30 s, or a
# third of a short run) to the last moment that leaves the incident and the grace inside the run.
awk -v K="$stalls" -v R="$rooms" -v L="$lines" -v M="$per_room" -v S="$seconds" -v seed="$seed" '
BEGIN {
  srand(seed);
  nl = K >= 40 ? 2 : (K >= 3 ? 1 : 0); if (nl > L - 1) nl = L > 1 ? 1 : 0;
  if (L < 2) nl = 0;
  nt = int(K * 0.08 + 0.5); if (nt < 1 && K >= 2) nt = 1;
  ns = K - nl - nt;
  warm = S >= 90 ? 30 : int(S / 3);
  sdur = 15; ldur = 20;
  last = S - ldur - 8; if (last < warm) last = warm;
  # failing lines
  for (i = 0; i < nl; i++) { do l = int(rand() * L); while (l in bad); bad[l] = 1; badl[i] = l }
  # kinds by slot: lines at about 1/3 and 2/3, teachers spread evenly over the rest
  for (i = 0; i < nl; i++) kind[int(K * (i + 1) / (nl + 1))] = "line";
  placed = 0;
  for (i = 0; i < K && placed < nt; i++) {
    j = int((placed + 0.5) * K / nt);
    while (j in kind) j = (j + 1) % K;
    kind[j] = "teacher"; placed++;
  }
  li = 0;
  for (i = 0; i < K; i++) {
    at = warm + (K > 1 ? (last - warm) * i / (K - 1) : 0);
    at_ms = int(at * 1000 + 0.5);
    k = (i in kind) ? kind[i] : "student";
    if (k == "line") { printf "line -1 -1 %d %d %d line-%d\n", badl[li], at_ms, ldur * 1000, badl[li]; li++; continue }
    tries = 0;
    do { r = int(rand() * R); tries++ } while (((r in used) || ((r % L) in bad)) && tries < 100000);
    used[r] = 1;
    if (k == "teacher") printf "teacher %d -1 %d %d %d room-%d\n", r, r % L, at_ms, sdur * 1000, r;
    else { s = int(rand() * M); printf "student %d %d %d %d %d s-%d-%d\n", r, s, r % L, at_ms, sdur * 1000, r, s }
  }
}' >"$work/specs" # kind room student line at_ms dur_ms subject
stall_args=()
while read -r kind room student line at dur _; do
  at_s=$(awk -v a="$at" 'BEGIN {printf "%.3f", a / 1000}')
  dur_s=$((dur / 1000))
  case $kind in
    student) stall_args+=(--stall "student:$room:$student:$at_s:$dur_s") ;;
    teacher) stall_args+=(--stall "teacher:$room:$at_s:$dur_s") ;;
    line) stall_args+=(--stall "line:$line:$at_s:$dur_s") ;;
  esac
done <"$work/specs"
sim_shape=(--classrooms "$rooms" --students "$per_room" --lines "$lines" --interval-ms "$interval"
  --seed "$seed")

# Every client's phase (its first window end after the start) for the clients the incidents
# touch: a short non-realtime run of the same shape and seed (phases depend on seed and
# client only), so the true first stalled heartbeat of each incident is known exactly.
"$bin/vocctl" --config "$cfg" simulate "${sim_shape[@]}" --duration-s 5 \
  --start-ms 946684810000 --out - 2>/dev/null |
  awk -v L="$lines" -v specs="$work/specs" '
  BEGIN {
    while ((getline ln < specs) > 0) {
      split(ln, f, " ");
      if (f[1] == "line") badline[f[4]] = 1; else want[f[2]] = 1;
    }
  }
  {
    i = index($0, "\"classroom_id\":\"room-"); rest = substr($0, i + 21);
    room = substr(rest, 1, index(rest, "\"") - 1) + 0;
    if (!(room in want) && !((room % L) in badline)) next;
    i = index($0, "\"student_id\":\""); rest = substr($0, i + 14);
    who = substr(rest, 1, index(rest, "\"") - 1);
    i = index($0, "\"window\":{\"start\":\"2000-01-01T00:00:"); ts = substr($0, i + 36, 6);
    phase = (substr(ts, 1, 2) - 5) * 1000 + substr(ts, 4, 3);
    print who, room, phase;
  }' >"$work/phases"

# ---- voc-bus, migrate, voc-outreach ----
"$bin/voc-bus" --config "$cfg" --partitions "$partitions" --addr-file "$work/bus.addr" \
  >"$work/voc-bus.log" 2>&1 &
bus_pid=$!
for _ in $(seq 100); do [ -s "$work/bus.addr" ] && break; sleep 0.1; done
[ -s "$work/bus.addr" ] || { log "voc-bus did not start"; cat "$work/voc-bus.log" >&2; exit 1; }
export VOC_KAFKA_BROKERS; VOC_KAFKA_BROKERS=$(cat "$work/bus.addr")
"$bin/vocctl" --config "$cfg" migrate >"$work/migrate.log" 2>&1 ||
  { log "migrate failed"; cat "$work/migrate.log" >&2; exit 1; }
"$bin/voc-outreach" --config "$cfg" >"$work/voc-outreach.log" 2>&1 &
outreach_pid=$!
for _ in $(seq 300); do
  grep -q 'event=partitions_assigned' "$work/voc-outreach.log" && break
  kill -0 "$outreach_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'event=partitions_assigned' "$work/voc-outreach.log" ||
  { log "voc-outreach did not join its group"; tail "$work/voc-outreach.log" >&2; exit 1; }
log "voc-bus at $VOC_KAFKA_BROKERS; voc-outreach joined; simulating"

# ---- the run ----
read -r m_busy0 _ < <(machine_ticks)
o_cpu0=$(cpu_ticks "$outreach_pid"); b_cpu0=$(cpu_ticks "$bus_pid"); t0=$(now_ms)
/usr/bin/time -f '%U %S %e' -o "$work/sim.time" \
  "$bin/vocctl" --config "$cfg" simulate "${sim_shape[@]}" --duration-s "$seconds" --realtime \
  "${stall_args[@]}" --truth "$work/truth.ndjson" >"$work/sim.log" 2>&1 &
sim_pid=$!
# A look at what else uses the machine, half-way through.
( sleep $((seconds / 2)) </dev/null >/dev/null 2>&1; ps -eo pid,pcpu,etimes,comm --sort=-pcpu | head -15 >"$work/ps.mid" ) &
mid_pid=$!
sim_rc=0; wait "$sim_pid" || sim_rc=$?
sim_pid=""
stop_helper "$mid_pid"; wait "$mid_pid" 2>/dev/null || true; mid_pid=""
[ "$sim_rc" = 0 ] || { log "simulator failed (rc=$sim_rc)"; cat "$work/sim.log" >&2; }
# Drain: the last holds are released one grace after their heartbeat (or by the service's
# idle clock once heartbeats stop); wait that long and a little more.
sleep $(( grace / 1000 + 6 ))
t1=$(now_ms)
o_cpu1=$(cpu_ticks "$outreach_pid"); b_cpu1=$(cpu_ticks "$bus_pid")
read -r m_busy1 _ < <(machine_ticks)
hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$outreach_pid/status" 2>/dev/null || echo 0)
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$outreach_pid/status" 2>/dev/null || echo 0)
kill -0 "$outreach_pid" 2>/dev/null || log "voc-outreach is not running any more!"
stop_pid "$outreach_pid"; outreach_pid=""

psql -qAt -F '|' -c "SELECT task_id, level, subject, coalesce(classroom_id, ''),
    coalesce(line, ''), (extract(epoch FROM first_bad_at) * 1000)::bigint,
    (extract(epoch FROM detected_at) * 1000)::bigint,
    (extract(epoch FROM created_at) * 1000)::bigint
  FROM voc.outreach ORDER BY id" >"$work/tasks"
published=$(psql -qAt -c "SELECT count(*) FROM voc.outbox WHERE topic = 'voc.outreach'
  AND published_at IS NOT NULL" 2>/dev/null || echo '?')
stop_pid "$bus_pid"; bus_pid=""

# ---- raw measures, for the report (and --report on a kept directory) ----
{
  for v in students rooms per_room lines seconds seed partitions grace interval hz ncpu \
    hwm_kb rss_kb o_cpu0 o_cpu1 b_cpu0 b_cpu1 m_busy0 m_busy1 t0 t1 published sim_rc; do
    printf '%s=%q\n' "$v" "${!v}"
  done
} >"$work/measures"
report "$work"
[ "$sim_rc" = 0 ] || exit 1
