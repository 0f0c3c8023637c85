#!/usr/bin/env bash
# Starts the whole system on its embedded defaults and shows it working:
# installs what it needs, builds, starts a local PostgreSQL cluster (Debian's
# "15/vocloop" on port 5444), voc-bus (the in-memory development broker),
# applies the migrations, starts voc-ingest, voc-aggregate, voc-outreach,
# voc-track and voc-notify (its chat webhooks pointed at a local sink,
# deploy/local/webhook_sink.py), publishes deploy/samples and a minute of
# simulated classroom telemetry, and prints what landed in Postgres: events
# per dimension, the improvement items they made, the customer cases and
# their promised reply times, the notifications delivered to departments, the
# outreach task for the stalled student, and the dead letters. Services keep
# running; deploy/local/down.sh stops them. Logs: run/logs/.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
cd "$(dirname "$0")/../.."
root=$(pwd)
deploy/local/install-deps.sh

echo "== build"
cmake -S . -B build/local -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOC_TESTS=OFF >/dev/null
cmake --build build/local -j"$(nproc)" >/dev/null
bin=$root/build/local
mkdir -p run/logs
deploy/local/down.sh --quiet || true

echo "== postgres (cluster 15/vocloop, port 5444)"
if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx 15/vocloop; then
  pg_createcluster 15 vocloop -p 5444 >/dev/null
fi
pg_ctlcluster 15 vocloop start 2>/dev/null || true
user=$(id -un)
runuser -u postgres -- psql -qp 5444 -tc "SELECT 1 FROM pg_roles WHERE rolname = '$user'" |
  grep -q 1 || runuser -u postgres -- createuser -p 5444 "$user"
runuser -u postgres -- psql -qp 5444 -tc "SELECT 1 FROM pg_database WHERE datname = 'vocloop'" |
  grep -q 1 || runuser -u postgres -- createdb -p 5444 -O "$user" vocloop
export VOC_PG_DSN="host=/var/run/postgresql port=5444 dbname=vocloop"

echo "== voc-bus"
rm -f run/bus.addr
nohup "$bin/voc-bus" --addr-file run/bus.addr >run/logs/voc-bus.log 2>&1 &
echo $! >run/voc-bus.pid
for _ in $(seq 100); do [ -s run/bus.addr ] && break; sleep 0.1; done
export VOC_KAFKA_BROKERS=$(cat run/bus.addr)
echo "broker at $VOC_KAFKA_BROKERS"

echo "== migrate"
"$bin/vocctl" migrate

echo "== voc-ingest"
nohup "$bin/voc-ingest" >run/logs/voc-ingest.log 2>&1 &
echo $! >run/voc-ingest.pid

echo "== voc-aggregate"
nohup "$bin/voc-aggregate" >run/logs/voc-aggregate.log 2>&1 &
echo $! >run/voc-aggregate.pid

echo "== voc-outreach"
nohup "$bin/voc-outreach" >run/logs/voc-outreach.log 2>&1 &
echo $! >run/voc-outreach.pid

echo "== voc-track"
nohup "$bin/voc-track" >run/logs/voc-track.log 2>&1 &
echo $! >run/voc-track.pid

# No real chat webhooks here: every target posts to a local sink. In
# production each VOC_WEBHOOK_* holds the target's real URL (with its token).
echo "== voc-notify (webhooks -> local sink, run/logs/webhooks.log)"
rm -f run/sink.port
nohup /usr/bin/python3 deploy/local/webhook_sink.py run/sink.port run/logs/webhooks.log \
  >run/logs/webhook-sink.log 2>&1 &
echo $! >run/webhook-sink.pid
for _ in $(seq 100); do [ -s run/sink.port ] && break; sleep 0.1; done
for var in $(sed -n 's/^ *url_env: *\(VOC_WEBHOOK_[A-Z0-9_]*\).*/\1/p' deploy/config/notify.yaml); do
  export "$var=http://127.0.0.1:$(cat run/sink.port)/${var#VOC_WEBHOOK_}"
done
nohup "$bin/voc-notify" >run/logs/voc-notify.log 2>&1 &
echo $! >run/voc-notify.pid
cat >run/env <<ENV
export VOC_KAFKA_BROKERS=$VOC_KAFKA_BROKERS
export VOC_PG_DSN="$VOC_PG_DSN"
ENV

echo "== publish deploy/samples/events.ndjson"
"$bin/vocctl" publish auto deploy/samples/events.ndjson
# Wait for this run's evidence: every valid sample stored (rows from an
# earlier run count too: inserts are idempotent) and every invalid one
# dead-lettered by the voc-ingest started above.
valid=$(grep -vc '^#' tests/data/samples_expected.tsv)
invalid=$(sed -n 's/^# invalid: //p' tests/data/samples_expected.tsv)
psql_q() { psql "$VOC_PG_DSN" -qAt -c "$1"; }
for _ in $(seq 300); do
  [ "$(psql_q 'SELECT count(*) FROM voc.feedback')" -ge "$valid" ] &&
    [ "$(grep -c 'event=deadlettered' run/logs/voc-ingest.log)" -ge "$invalid" ] && break
  sleep 0.1
done

echo "== voc.feedback by dimension"
psql "$VOC_PG_DSN" -q -c "SELECT dimension, count(*) AS events,
  count(*) FILTER (WHERE sentiment = 'complaint') AS complaints,
  count(*) FILTER (WHERE sentiment = 'praise') AS praise
  FROM voc.feedback GROUP BY dimension ORDER BY events DESC"
echo "== a few classified rows (text is PII-masked)"
psql "$VOC_PG_DSN" -q -c "SELECT event_id, dimension, category, severity, sentiment,
  left(text, 40) AS text FROM voc.feedback WHERE text LIKE '%[PHONE]%' OR tier = 'vip'
  ORDER BY event_id LIMIT 6"
# Items appear once voc-aggregate has taken the classified stream.
for _ in $(seq 100); do
  [ "$(psql_q 'SELECT count(*) FROM voc.item')" -gt 0 ] && break
  sleep 0.1
done
sleep 1
echo "== improvement items (vocctl items)"
"$bin/vocctl" items --limit 12
echo "== customer cases (every complaint and low rating; vocctl case list)"
for _ in $(seq 100); do
  [ "$(psql_q 'SELECT count(*) FROM voc.case')" -gt 0 ] && break
  sleep 0.1
done
psql "$VOC_PG_DSN" -q -c "SELECT id, kind, tier, channel, state,
  to_char(opened_at AT TIME ZONE 'Asia/Shanghai', 'Dy MM-DD HH24:MI') AS opened_cst,
  to_char(reply_due_at AT TIME ZONE 'Asia/Shanghai', 'Dy MM-DD HH24:MI') AS reply_due_cst
  FROM voc.case ORDER BY id LIMIT 8"
echo "== notifications delivered to departments (voc.delivery; voc-notify groups them)"
for _ in $(seq 100); do
  [ "$(psql_q "SELECT count(*) FROM voc.delivery WHERE outcome = 'ok'")" -gt 0 ] && break
  sleep 0.1
done
psql "$VOC_PG_DSN" -q -c "SELECT target, count(*) AS messages, sum(cardinality(notice_ids)) AS notices,
  string_agg(DISTINCT outcome, ',') AS outcomes FROM voc.delivery GROUP BY target ORDER BY target"
echo "== proactive outreach: a minute of 6 classrooms, one student's video freezes"
start=$(( ($(date +%s) - 60) * 1000 ))
"$bin/vocctl" simulate --classrooms 6 --students 5 --lines 2 --duration-s 60 --seed 3 \
  --start-ms "$start" --stall student:room-2:1:15:30 --topic voc.telemetry
for _ in $(seq 150); do
  [ "$(psql_q "SELECT count(*) FROM voc.outreach WHERE subject = 's-2-1'")" -gt 0 ] && break
  sleep 0.1
done
"$bin/vocctl" outreach list
echo "== dead-lettered (to voc.deadletter, with the reason)"
grep 'event=deadlettered' run/logs/voc-ingest.log | sed -e 's/.*topic=/  topic=/' || true
cat <<MSG

Running. Query it:   . run/env && psql "\$VOC_PG_DSN"
Send more events:    . run/env && $bin/vocctl publish auto FILE
Act on an item:      . run/env && $bin/vocctl item show ID   (ack, resolve, assign, ...)
Answer a customer:   . run/env && $bin/vocctl case reply ID --by YOU --note "..."
Webhook messages:    run/logs/webhooks.log
Close a call:        . run/env && $bin/vocctl outreach done ID --outcome reached --by YOU
Stop everything:     deploy/local/down.sh
MSG
