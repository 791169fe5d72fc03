#!/bin/sh
# tests/integration/cli_basic.sh: the parley command against a real
# parleyd on a socket in a mktemp -d directory.  Prints TAP.
#
# Starts `parleyd --foreground --data-dir D/data --socket D/s`, waits until
# it answers, drives it with cli/parley (status, id, id --qr, rpc,
# events), then stops it with SIGTERM and checks that it exits 0 and
# removes its socket.
top_builddir=${top_builddir:-.}
parleyd=$top_builddir/node/parleyd
parley=$top_builddir/cli/parley

n=0
fail=0
pid=
d=$(mktemp -d /tmp/parley-cli.XXXXXX) || exit 99
sock=$d/s

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { # description, status (0 = pass), [diagnostic file]
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		fail=1
		if [ -n "${3:-}" ] && [ -f "$3" ]; then
			sed 's/^/# /' "$3" | head -20
		fi
	fi
}

# run NAME ARGS...: runs parley with the socket, keeps stdout in D/NAME.out,
# stderr in D/NAME.err and the exit status in $rc.
run() {
	name=$1
	shift
	"$parley" --socket "$sock" "$@" >"$d/$name.out" 2>"$d/$name.err"
	rc=$?
}

# has NAME PATTERN: does D/NAME.out match the extended regex?
has() { grep -Eq -- "$2" "$d/$1.out"; }
has_err() { grep -Eq -- "$2" "$d/$1.err"; }

# --- before the daemon ---------------------------------------------------

run absent status
ok "no daemon: exit 69" "$([ $rc = 69 ]; echo $?)" "$d/absent.err"
ok "no daemon: hint to start parleyd" \
	"$(has_err absent 'is parleyd running\? start it with: parleyd'; echo $?)" \
	"$d/absent.err"

"$parley" --version >"$d/version.out" 2>&1
ok "parley --version" "$(has version '^parley [0-9]'; echo $?)" "$d/version.out"

# --- start the daemon ----------------------------------------------------

# start_daemon NAME [ARGS...]: starts parleyd with data in D/NAME and
# socket $sock, sets $pid, and waits until it answers: up to 10 s, asking
# every 0.1 s.  A refused or missing socket (69) means not yet.
start_daemon() {
	name=$1
	shift
	"$parleyd" --foreground --data-dir "$d/$name" --socket "$sock" \
		--log-level debug "$@" 2>"$d/$name.log" &
	pid=$!
	i=0
	while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
		run wait status
		[ $rc != 69 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

start_daemon data
up=$?
ok "parleyd starts and answers on its socket" "$up" "$d/data.log"
if [ $up != 0 ]; then
	echo "Bail out! parleyd did not come up"
	exit 1
fi

# --- status --------------------------------------------------------------

run status status
ok "status: exit 0" "$rc" "$d/status.err"
ok "status: daemon line with its pid" \
	"$(has status "^daemon +parleyd .*\\(pid $pid\\)\$"; echo $?)" "$d/status.out"
ok "status: socket line" "$(has status "^socket +$sock\$"; echo $?)" "$d/status.out"
ok "status: node id is 64 hex digits" \
	"$(has status '^node id +[0-9a-f]{64}$'; echo $?)" "$d/status.out"

run status_json -J status
ok "-J status: exit 0" "$rc" "$d/status_json.err"
ok "-J status: one compact object with the pid" \
	"$([ "$(wc -l <"$d/status_json.out")" = 1 ] &&
	   has status_json "^\\{.*\"pid\":$pid[,}]"; echo $?)" "$d/status_json.out"

# --- id ------------------------------------------------------------------

run id id
ok "id: exit 0" "$rc" "$d/id.err"
cid=$(sed -n 's/^contact id *//p' "$d/id.out")
ok "id: contact ID of 56 characters" \
	"$([ ${#cid} = 56 ]; echo $?)" "$d/id.out"
ok "id: parley: URI of that ID" \
	"$(has id "^uri +parley:$cid\$"; echo $?)" "$d/id.out"

run uri id --uri
ok "id --uri: the URI alone" \
	"$([ $rc = 0 ] && [ "$(cat "$d/uri.out")" = "parley:$cid" ]; echo $?)" \
	"$d/uri.out"

run id_json -J id
ok "-J id: the uri member" \
	"$([ $rc = 0 ] && has id_json "\"uri\":\"parley:$cid\""; echo $?)" \
	"$d/id_json.out"

run qr id --qr
# The QR code for a 63-byte URI is at least version 4 (33 modules): with
# the quiet zone at least 41 columns of blocks on at least 21 lines.
qr_lines=$(grep -c '█' "$d/qr.out")
ok "id --qr: exit 0 and a QR code of half blocks" \
	"$([ $rc = 0 ] && [ "$qr_lines" -ge 21 ] &&
	   head -1 "$d/qr.out" | grep -Eq '^(█){41,}$'; echo $?)" "$d/qr.out"
ok "id --qr: followed by the contact ID" \
	"$(has qr "^contact id +$cid\$"; echo $?)" "$d/qr.out"

run qr_json -J id --qr
ok "-J id --qr: usage error 64" "$([ $rc = 64 ]; echo $?)" "$d/qr_json.err"

# --- rpc -----------------------------------------------------------------

run version rpc api.version
ok "rpc api.version: exit 0" "$rc" "$d/version.err"
ok "rpc api.version: major 1, capabilities" \
	"$(has version '"major": 1' && has version '"capabilities"'; echo $?)" \
	"$d/version.out"

echo '{}' | "$parley" --socket "$sock" -J rpc api.version - \
	>"$d/stdin.out" 2>"$d/stdin.err"
rc=$?
ok "rpc with params from standard input" \
	"$([ $rc = 0 ] && has stdin '^\{.*"major":1'; echo $?)" "$d/stdin.err"

run unknown rpc no.such.method
ok "rpc unknown method: exit 1, error -32601" \
	"$([ $rc = 1 ] && has_err unknown 'error -32601'; echo $?)" "$d/unknown.err"

run unknown_json -J rpc no.such.method
ok "-J rpc unknown method: the error object on stdout" \
	"$([ $rc = 1 ] && has unknown_json '^\{"error":\{"code":-32601'; echo $?)" \
	"$d/unknown_json.out"

run badjson rpc node.status '{"a":'
ok "rpc bad JSON params: exit 65" "$([ $rc = 65 ]; echo $?)" "$d/badjson.err"

run badparam rpc events.subscribe '{"since":"yesterday"}'
ok "rpc bad params: exit 1, error -32602 naming the field" \
	"$([ $rc = 1 ] && has_err badparam '-32602.*field "since"'; echo $?)" \
	"$d/badparam.err"

# --- events --------------------------------------------------------------

run events events --since 0
ok "events --since 0: exit 0" "$rc" "$d/events.err"
ok "events: node.started is logged" \
	"$(has events '^[0-9]+ [0-9T:.-]+Z node\.started'; echo $?)" "$d/events.out"

run events_json -J events
ok "-J events: one object per line with seq and type" \
	"$([ $rc = 0 ] && [ -s "$d/events_json.out" ] &&
	   ! grep -Evq '^\{"seq":[0-9]+,.*"type":"' "$d/events_json.out"; echo $?)" \
	"$d/events_json.out"

last=$(sed -n 's/^last event *//p' "$d/status.out")
run events_none events --since "$last"
ok "events --since LAST: nothing, exit 0" \
	"$([ $rc = 0 ] && [ ! -s "$d/events_none.out" ]; echo $?)" "$d/events_none.err"

# With -f, parley stops once the reader of its output goes away.
timeout 10 sh -c "\"$parley\" --socket \"$sock\" events -f --since 0 | head -1" \
	>"$d/follow.out" 2>"$d/follow.err"
rc=$?
ok "events -f | head -1: one line, then parley stops" \
	"$([ $rc = 0 ] && [ "$(wc -l <"$d/follow.out")" = 1 ]; echo $?)" \
	"$d/follow.err"

# A follower sees a live event, then the daemon's stop, and exits 69 when
# the daemon closes the connection.  --since makes the start race-free:
# whatever happened after LAST is replayed first.
run last -J status
last=$(sed -n 's/.*"events_last_seq":\([0-9]*\).*/\1/p' "$d/last.out")
"$parley" --socket "$sock" events -f --since "$last" \
	>"$d/live.out" 2>"$d/live.err" &
fpid=$!
run profile rpc profile.set '{"name":"cli-basic"}'
i=0
while [ $i -lt 100 ] && ! grep -q 'profile.updated' "$d/live.out"; do
	sleep 0.1
	i=$((i + 1))
done
ok "events -f: a live event is printed" \
	"$(has live '^[0-9]+ .* profile\.updated \{.*"cli-basic"'; echo $?)" \
	"$d/live.out"

# --- stop ----------------------------------------------------------------

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
ok "parleyd exits 0 on SIGTERM" "$rc" "$d/data.log"
wait "$fpid"
rc=$?
ok "events -f: exit 69 when parleyd stops" \
	"$([ $rc = 69 ] && has_err live 'closed the connection'; echo $?)" \
	"$d/live.err"
ok "events -f: the follower saw node.stopping" \
	"$(has live ' node\.stopping'; echo $?)" "$d/live.out"
ok "parleyd removed its socket" "$([ ! -e "$sock" ]; echo $?)"

run gone status
ok "after the stop: exit 69 again" "$([ $rc = 69 ]; echo $?)" "$d/gone.err"

# --- events pruned from a short log ---------------------------------------

# With --event-log-max 5, twelve updates push the first events out of the
# log: parley prints what is kept and says what was lost.
start_daemon short --event-log-max 5
ok "parleyd with --event-log-max 5 starts" "$?" "$d/short.log"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	"$parley" --socket "$sock" rpc profile.set "{\"name\":\"n$i\"}" \
		>/dev/null 2>&1
done
run pruned events
ok "events over a pruned log: exit 0, the 5 kept events" \
	"$([ $rc = 0 ] && [ "$(grep -c ' profile\.updated ' "$d/pruned.out")" = 5 ] &&
	   has pruned '"n12"'; echo $?)" "$d/pruned.out"
ok "events over a pruned log: the lost range is reported" \
	"$(has_err pruned '^parley: events 1 to [0-9]+ were dropped'; echo $?)" \
	"$d/pruned.err"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
ok "the second parleyd exits 0 on SIGTERM" "$rc" "$d/short.log"

echo "1..$n"
exit $fail
