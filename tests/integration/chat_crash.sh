#!/bin/sh
# Nothing lost, nothing twice: 10,000 messages each way between two real
# daemons while first the one, then the other is killed with SIGKILL in
# the middle of the stream and started again.  At the end each side's
# outgoing history must be, id for id and in the same order, the other
# side's incoming history, and every send the daemon had answered must be
# in it.
. "${top_srcdir:-.}/tests/integration/lib.sh"
base=$((20000 + $$ % 20000))
N=${CHAT_CRASH_N:-10000}
half=$((N / 2))

UNTIL_TRIES=1200 # until_true: up to 120 s
sendmany() { # NAME TO PREFIX FIRST COUNT: prints the last answered k
	"$RPCTOOL" "$T/$1.sock" sendmany "$2" "$3" "$4" "$5" |
		sed -n 's/^sent //p'
}
a_args="--listen 127.0.0.1:$base"
b_args="--listen 127.0.1.1:$base --bootstrap 127.0.0.1:$base"

check "a starts" start a $a_args
check "b starts" start b $b_args
ida=$(field "$(rpc a identity.get)" id)
idb=$(field "$(rpc b identity.get)" id)
joined() { [ "$(field "$(rpc b dht.status)" contacts)" -ge 1 ]; }
until_true joined
sb=$(seq_of b)
rpc a contacts.add "{\"id\":\"$idb\"}" >/dev/null
"$RPCTOOL" "$T/b.sock" wait contact.request "$sb" >/dev/null
sa=$(seq_of a)
rpc b contacts.accept "{\"id\":\"$ida\"}" >/dev/null
check "a and b are contacts" \
	"$RPCTOOL" "$T/a.sock" wait contact.accepted "$sa"

# newest NAME WITH: the newest message of the conversation (an answer
# line of messages.list); newest_past NAME WITH PFX K: its body is PFX<j>
# with j > K.
newest() { rpc "$1" messages.list "{\"with\":\"$2\",\"limit\":1}"; }
newest_past() {
	nb=$(field "$(newest "$1" "$2")" body)
	case $nb in "$3"[0-9]*) [ "${nb#"$3"}" -gt "$4" ] ;; *) false ;; esac
}
q=$((half / 10))

# Round 1: a streams to b and is killed while its messages are on the
# way; b writes to a while a is down.  b has had the first part of the
# stream; then it is paused (SIGSTOP), so what a answers after that is
# surely undelivered (in a's outbox, or in b's socket buffer) when a dies.
s0=$(seq_of b)
sendmany a "$idb" A 1 "$q" >"$T/a0"
some_in() { [ "$(seq_of b)" -gt "$s0" ]; }
until_true some_in
pb=$(pid_of b)
kill -STOP "$pb"
sendmany a "$idb" A $((q + 1)) $((half - q)) >"$T/a1" &
ja=$!
UNTIL_TRIES=100 until_true newest_past a "$idb" A "$q"
last=$(newest a "$idb")
pa=$(pid_of a)
kill -9 "$pa"
waitpid "$pa" # gone, lock and port released, before it starts again
kill -CONT "$pb"
wait $ja
ka=$(cat "$T/a1")
check "a, the sender, was killed with its stream on the way" \
	not has "$last" '"status":"delivered"'
diag "a's client had $ka of $half answers; a's newest at the kill: $(field "$last" body)"
sendmany b "$ida" B 1 "$half" >"$T/b1"
kb=$(cat "$T/b1")
check "b's sends to a, who is down, all answered" test "$kb" = "$half"
check "a starts again" start a $a_args

# Round 2: both stream the rest; b is killed in the middle: it has had
# part of a's stream, is paused, a answers more, and b dies.
sendmany b "$ida" B $((half + 1)) $((N - half)) >"$T/b2" &
jb=$!
sendmany a "$idb" A $((ka + 1)) "$q" >"$T/a2"
s0=$(seq_of b)
moved() { [ "$(seq_of b)" -ge $((s0 + 100)) ]; }
until_true moved
kill -STOP "$pb"
k2=$((ka + q))
sendmany a "$idb" A $((k2 + 1)) $((N - k2)) >"$T/a3" &
ja=$!
UNTIL_TRIES=100 until_true newest_past a "$idb" A "$k2"
last=$(newest a "$idb")
kill -9 "$pb"
waitpid "$pb"
check "b, the receiver of a's stream, was killed in the middle of it" \
	not has "$last" '"status":"delivered"'
wait $jb
kb2=$(cat "$T/b2")
check "b starts again" start b $b_args
sendmany b "$ida" B $((kb2 + 1)) $((N - kb2)) >"$T/b3"
check "b's remaining sends answered" test "$(cat "$T/b3")" = "$N"
wait $ja
check "a's sends all answered" test "$(cat "$T/a3")" = "$N"

# Everything arrives, exactly once, in order.
ids() { # NAME WITH DIR
	"$RPCTOOL" "$T/$1.sock" history "$2" | sed -n "s/^$3 \([0-9a-f]*\) .*/\1/p"
}
same() { # FROM TO: FROM's outgoing ids = TO's incoming ids
	ids "$1" "$3" out >"$T/out.$1"
	ids "$2" "$4" in >"$T/in.$2"
	[ -s "$T/out.$1" ] && cmp -s "$T/out.$1" "$T/in.$2"
}
# Reading 2 x N messages is slow (under ASan above all): first wait,
# cheaply, until neither event log moves for 2 s (delivery and its
# statuses are events), then compare, a few times at most.
settled() {
	s1=$(seq_of a)
	s2=$(seq_of b)
	sleep 2
	[ "$(seq_of a)" = "$s1" ] && [ "$(seq_of b)" = "$s2" ]
}
a_few() { # up to 10 tries, 2 s apart
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -ge 10 ] && return 1
		sleep 2
	done
}
until_true settled
check "a -> b: b's history is a's outgoing history, id for id, in order" \
	a_few same a b "$idb" "$ida"
check "b -> a: the same the other way" \
	a_few same b a "$ida" "$idb"
check "... and no id twice" \
	test "$(sort "$T/in.b" | uniq -d | wc -l)" = 0 -a \
	"$(sort "$T/in.a" | uniq -d | wc -l)" = 0
# every answered send is there (bodies A1..AN, B1..BN; a send that was
# stored but not answered before a kill may be there twice, as two
# messages: the client sent it again)
bodies() { "$RPCTOOL" "$T/$1.sock" history "$2" | sed -n "s/^out [0-9a-f]* \($3[0-9]*\)$/\1/p" | sort -u | wc -l; }
check "all $N of a's messages are in b's history" \
	test "$(bodies a "$idb" A)" = "$N"
check "all $N of b's messages are in a's history" \
	test "$(bodies b "$ida" B)" = "$N"
diag "a's outgoing: $(wc -l <"$T/out.a"), b's incoming: $(wc -l <"$T/in.b")"
stop a
stop b
done_testing
