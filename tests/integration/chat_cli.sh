#!/bin/sh
# tests/integration/chat_cli.sh: messaging between two real daemons on
# loopback, driven only through the parley command: a contact request and
# its acceptance, names, messages from arguments and from standard input
# (control characters passed exactly, shown escaped), history, read
# receipts, typing, safety numbers, events in words, blocking, removal,
# and the errors for unknown contacts and oversized messages.  Waits are
# on states, polled every 0.1 s with a bound.
. "${top_srcdir:-.}/tests/integration/lib.sh"
base=$((20000 + $$ % 20000))

pa() { "$PARLEY" -s "$T/a.sock" "$@"; }
pb() { "$PARLEY" -s "$T/b.sock" "$@"; }

# until_ok SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds,
# for at most SECONDS.
until_ok() {
	n=$(($1 * 10))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.1
	done
	return 0
}

# out_has FILE PATTERN: does FILE match the fixed string PATTERN?
out_has() { grep -qF -- "$2" "$1"; }

# runs NAME NODE ARGS...: parley on NODE's socket; stdout in $T/NAME.out,
# stderr in $T/NAME.err, exit status in $rc.
runs() {
	name=$1
	node=$2
	shift 2
	"$PARLEY" -s "$T/$node.sock" "$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
}

check "a starts" start a --listen "127.0.0.1:$base"
check "b starts" start b --listen "127.0.1.1:$base" \
	--bootstrap "127.0.0.1:$base"
ida=$(field "$(pa -J id)" id)
idb=$(field "$(pb -J id)" id)
check "both have a contact ID" test ${#ida} = 56 -a ${#idb} = 56
joined() {
	for n in a b; do
		[ "$(field "$(rpc $n dht.status)" contacts)" -ge 1 ] || return 1
	done
}
check "the two DHT nodes know each other" until_ok 20 joined

# Without the messaging API every step below would wait out its bound.
runs has_api a contact list
if [ $rc != 0 ]; then
	sed 's/^/# /' "$T/has_api.err"
	echo "Bail out! the daemon does not serve contacts.list"
	exit 1
fi
check "contact list with no contacts" out_has "$T/has_api.out" "no contacts"

# --- the contact request ------------------------------------------------

runs add a contact add "parley:$idb" --name bob --greeting "hi, it's alice"
check "contact add: exit 0" test $rc = 0
check "... says the request went to bob" \
	out_has "$T/add.out" "sent a contact request to bob"
runs add2 a contact add "$idb"
check "adding again is an error answer (exit 1, exists)" \
	sh -c "[ $rc = 1 ] && grep -q exists '$T/add2.err'"
runs addbad a contact add "not-an-id"
check "contact add of no ID: exit 65, nothing asked" test $rc = 65

listed() { pb -J contact list | grep -qF "\"$ida\""; }
check "b lists a after the request" until_ok 30 listed
requested() {
	runs req b events --type contact.request
	out_has "$T/req.out" "contact.request from $ida"
}
check "b's events show the request in words" until_ok 10 requested
check "... with the greeting" out_has "$T/req.out" ": hi, it's alice"

runs accept b contact accept "$ida"
check "contact accept: exit 0" test $rc = 0
check "... and the contact is accepted" \
	out_has "$T/accept.out" "is now a contact (state: accepted)"
runs setname b contact set "$ida" --name alice
check "contact set --name: the row shows alice, accepted" \
	sh -c "grep -qE '^alice +accepted ' '$T/setname.out'"

accepted() { pa contact list | grep -qE '^bob +accepted '; }
check "a sees bob accepted" until_ok 30 accepted
got_accept() {
	pa events --type contact.accepted |
		grep -qF "contact.accepted bob accepted your request"
}
check "a's events: contact.accepted in words" until_ok 10 got_accept

# --- messages -------------------------------------------------------------

# Follow b's incoming messages from the current end of its log.
since=$(field "$(rpc b node.status)" events_last_seq)
pb events -f --since "$since" --type message.received >"$T/follow.out" \
	2>"$T/follow.err" &
fpid=$!
PIDS="$PIDS $fpid"

runs send1 a send bob hello world
check "send: exit 0" test $rc = 0
check "send prints the message id (32 hex digits)" \
	grep -qxE '[0-9a-f]{32}' "$T/send1.out"
mid=$(cat "$T/send1.out")
arrived() { pb history alice | grep -qF "alice  < hello world"; }
check "b's history shows it from alice" until_ok 30 arrived
followed() { grep -qF "message.received alice: hello world" "$T/follow.out"; }
check "events -f on b printed it as 'alice: hello world'" until_ok 10 followed

printf 'line one\nline two\n' >"$T/body"
"$PARLEY" -s "$T/a.sock" send bob <"$T/body" >"$T/send2.out" 2>&1
check "send from standard input: exit 0" test $? = 0
two_lines() { pb -J history alice | grep -qF '"line one\nline two"'; }
check "the body arrives exactly, the final newline dropped" \
	until_ok 30 two_lines
runs hist b history alice
check "human history: the second line indented under the first" \
	sh -c "grep -qE '^ +line two$' '$T/hist.out'"

esc=$(printf 'x\033[31my\033]0;owned\007z')
runs send3 a send bob "$esc"
check "a body with terminal escapes is sent" test $rc = 0
escaped() { pb -J history alice | grep -qiF 'x\u001b[31my\u001b]0;owned\u0007z'; }
check "-J history keeps the escapes, as JSON escapes" until_ok 30 escaped
runs hist2 b history alice
check "human history shows them in caret notation" \
	out_has "$T/hist2.out" "x^[[31my^[]0;owned^Gz"
check "... and no ESC or BEL byte reaches the output" \
	sh -c "! grep -q \"\$(printf '\\033')\" '$T/hist2.out' &&
	       ! grep -q \"\$(printf '\\007')\" '$T/hist2.out'"
check "... nor in events -f" \
	sh -c "! grep -q \"\$(printf '\\033')\" '$T/follow.out'"
kill "$fpid" 2>/dev/null

# --- receipts, typing, settings -------------------------------------------

runs set1 b settings read-receipts on
check "settings read-receipts on" out_has "$T/set1.out" "receipts     on"
runs read b read alice
check "read: marks the messages from alice" \
	sh -c "grep -qE '^marked [1-9][0-9]* messages? from alice read$' '$T/read.out'"
read_tick() { pa history bob | grep -qF "> hello world  [read]"; }
check "a's history shows [read] on the first message" until_ok 30 read_tick
runs hist3 a history bob --ids
check "history --ids starts lines with the message id" \
	sh -c "grep -q '^$mid  ' '$T/hist3.out'"

runs typing a typing bob on
check "typing bob on: exit 0, nothing printed" \
	sh -c "[ $rc = 0 ] && [ ! -s '$T/typing.out' ]"
typing_seen() { pb events --type typing | grep -qF "typing alice is typing"; }
check "b's events: alice is typing" until_ok 30 typing_seen

# --- safety numbers ---------------------------------------------------------

runs va a contact verify bob
runs vb b contact verify alice
grep -E '^    [0-9]{5}( [0-9]{5}){3}$' "$T/va.out" >"$T/va.digits"
grep -E '^    [0-9]{5}( [0-9]{5}){3}$' "$T/vb.out" >"$T/vb.digits"
check "verify: 12 groups of 5 digits in 3 rows" \
	test "$(wc -l <"$T/va.digits")" = 3
check "both sides see the same safety number" \
	sh -c "[ -s '$T/va.digits' ] && cmp -s '$T/va.digits' '$T/vb.digits'"
runs vqr a contact verify --qr bob
check "verify --qr draws a QR code, then the number" \
	sh -c "[ $rc = 0 ] && grep -q '█' '$T/vqr.out' &&
	       grep -q 'Safety number with bob' '$T/vqr.out'"

# --- errors -------------------------------------------------------------------

runs nobody a send nobody hi
check "send to an unknown name: exit 67" test $rc = 67
check "... saying so" out_has "$T/nobody.err" 'no contact is named "nobody"'
runs stranger a send aeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabus5 hi
check "send to an ID that is no contact: the daemon's error, exit 1" \
	sh -c "[ $rc = 1 ] && grep -qE 'not_found|bad_params' '$T/stranger.err'"
count() { pa -J history bob -n 1000 | grep -o '"dir"' | wc -l; }
before=$(count)
head -c 65537 /dev/zero | tr '\0' a >"$T/big"
"$PARLEY" -s "$T/a.sock" send bob <"$T/big" >"$T/big.out" 2>"$T/big.err"
check "a message over 65536 bytes: exit 65" test $? = 65
check "... and nothing was sent" test "$(count)" = "$before"
head -c 65536 /dev/zero | tr '\0' b >"$T/max"
"$PARLEY" -s "$T/a.sock" send bob <"$T/max" >"$T/max.out" 2>"$T/max.err"
check "exactly 65536 bytes are sent" test $? = 0

# --- block, remove ------------------------------------------------------------

runs block b contact block alice
check "contact block: state blocked" \
	out_has "$T/block.out" "blocked alice (state: blocked)"
runs unblock b contact unblock alice
check "contact unblock: exit 0" test $rc = 0
runs remove a contact remove bob
check "contact remove: the history is kept" \
	out_has "$T/remove.out" "removed bob (the history is kept)"
runs gone a history bob
check "the name is gone with the contact (exit 67)" test $rc = 67
runs kept a history "$idb"
check "... but the history is there by ID" \
	out_has "$T/kept.out" "> hello world"

stop a
stop b
done_testing
