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

# Round 1: a streams to b and is killed while its messages are on the
# way; b writes to a while a is down.
s0=$(seq_of b)
sendmany a "$idb" A 1 "$half" >"$T/a1" &
ja=$!
moved() { [ "$(seq_of b)" -ge $((s0 + 100)) ]; }
until_true moved
pa=$(pid_of a)
got=$(seq_of b)
kill -9 "$pa"
waitpid "$pa" # gone, lock and port released, before it starts again
wait $ja
ka=$(cat "$T/a1")
# Mid-stream: a's client had not had all its answers (requests were in
# the socket or in the daemon), or b, with a dead, has fewer of a's
# messages than a had answered (they were committed at a, not yet at b).
# Which of the two holds is the machine's speed (the sanitizers slow b).
got=$(seq_of b) # only a's messages are b's events in this round
on_the_way() { [ "${ka:-0}" -lt "$half" ] || [ $((got - s0)) -lt "${ka:-0}" ]; }
check "a, the sender, was killed with its stream on the way" on_the_way
diag "a's client had $ka of $half answers; b has $((got - s0)) of them"
sendmany b "$ida" B 1 "$half" >"$T/b1"
kb=$(cat "$T/b1")
check "b's sends to a, who is down, all answered" test "$kb" = "$half"
check "a starts again" start a $a_args

# Round 2: both stream the rest; b is killed in the middle.
sendmany a "$idb" A $((ka + 1)) $((N - ka)) >"$T/a2" &
ja=$!
sendmany b "$ida" B $((half + 1)) $((N - half)) >"$T/b2" &
jb=$!
s0=$(seq_of b)
moved() { [ "$(seq_of b)" -ge $((s0 + 100)) ]; }
until_true moved
pb=$(pid_of b)
kill -9 "$pb"
waitpid "$pb"
# In the middle: with b dead, a's newest message to b is not delivered
# (b acknowledges only what it committed, and can no longer).
newest=$(rpc a messages.list "{\"with\":\"$idb\",\"limit\":1}")
check "b, the receiver of a's stream, was killed in the middle of it" \
	not has "$newest" '"status":"delivered"'
wait $jb
kb2=$(cat "$T/b2")
check "b starts again" start b $b_args
sendmany b "$ida" B $((kb2 + 1)) $((N - kb2)) >"$T/b3"
check "b's remaining sends answered" test "$(cat "$T/b3")" = "$N"
wait $ja
check "a's sends all answered" test "$(cat "$T/a2")" = "$N"

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
