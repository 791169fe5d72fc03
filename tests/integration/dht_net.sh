#!/bin/sh
# 30 real parleyd processes on loopback form a DHT off one bootstrap node;
# records put from some nodes are read from others through the CLI and
# the raw socket, also after a third of the nodes are killed.  Each node
# listens on its own 127.0.I.1 (all of 127/8 is loopback on Linux): the
# DHT, like BEP 5 nodes, takes at most 2 contacts per /24 in a bucket and
# rate-limits each /24, so 30 nodes behind one address would be 30 nodes
# behind one NAT, not a network.
. "${top_srcdir:-.}/tests/integration/lib.sh"
N=30
base=$((20000 + $$ % 20000))

check "bootstrap node starts" start n0 --listen "127.0.0.1:$base"
i=1
started=1
while [ $i -lt $N ]; do
	start "n$i" --listen "127.0.$i.1:$base" \
		--bootstrap "127.0.0.1:$base" && started=$((started + 1))
	i=$((i + 1))
done
check "all $N daemons started" test $started = $N

# Every daemon's join must put contacts in its table.  A join whose
# answer came too late (a loaded machine) is retried by the daemon, so
# wait for the state, bounded: 20 s.
contacts() { field "$(rpc "$1" dht.status)" contacts; }
min_contacts() {
	min=$N
	i=0
	while [ $i -lt $N ]; do
		c=$(contacts "n$i")
		[ "${c:-0}" -lt "$min" ] && min=${c:-0} && low="n$i"
		i=$((i + 1))
	done
}
t=0
min_contacts
while [ "$min" -lt 2 ] && [ $t -lt 40 ]; do
	sleep 0.5
	t=$((t + 1))
	min_contacts
done
diag "smallest routing table: $min contacts ($low), after $((t / 2)) s"
check "no node is isolated (every table has >= 2 contacts)" test "$min" -ge 2

put() { # node value salt -> key
	field "$("$PARLEY" -J -s "$T/$1.sock" rpc dht.put "{\"value\":\"$2\",\"salt\":\"$3\"}")" key
}
get_value() { # node key
	field "$("$PARLEY" -J -s "$T/$1.sock" rpc dht.get "{\"key\":\"$2\"}")" value
}

keys=""
ok_puts=0
for p in 3 11 19 27; do
	k=$(put "n$p" "value-from-$p" "s$p")
	[ ${#k} = 64 ] && ok_puts=$((ok_puts + 1))
	keys="$keys n$p:$k"
done
check "4 puts through the CLI acknowledged" test $ok_puts = 4

gets_ok=0
gets=0
for kv in $keys; do
	p=${kv%%:*}
	k=${kv#*:}
	for g in 0 5 14 22 29; do
		gets=$((gets + 1))
		v=$(get_value "n$g" "$k")
		[ "$v" = "value-from-${p#n}" ] && gets_ok=$((gets_ok + 1))
	done
done
check "every get from 5 other nodes finds the value ($gets_ok/$gets)" \
	test $gets_ok = $gets

k=$(put n3 "second-value" s3)
check "a second put under the same key has seq 2" \
	test "$(field "$(rpc n3 dht.get "{\"key\":\"$k\"}")" seq)" = 2
check "... and others read the new value" \
	test "$(get_value n20 "$k")" = "second-value"

# A third of the nodes vanish at once (kill -9, no goodbye).
killed=0
for i in 1 4 7 10 13 16 19 22 25 28; do
	p=$(pid_of "n$i")
	kill -9 "$p" && killed=$((killed + 1))
done
check "10 nodes killed" test $killed = 10

gets_ok=0
gets=0
for kv in $keys; do
	p=${kv%%:*}
	k=${kv#*:}
	case $p in n19) continue ;; esac # its publisher is gone; still stored
	for g in 0 2 17 29; do
		gets=$((gets + 1))
		v=$(get_value "n$g" "$k")
		case $v in value-from-* | second-value) gets_ok=$((gets_ok + 1)) ;; esac
	done
done
check "gets after the kill still find the records ($gets_ok/$gets)" \
	test $gets_ok = $gets
k19=$(printf '%s\n' $keys | sed -n 's/^n19://p')
check "a record whose publisher was killed is still found" \
	test "$(get_value n8 "$k19")" = "value-from-19"

out=$("$PARLEY" -s "$T/n2.sock" rpc dht.get '{"key":"0000000000000000000000000000000000000000000000000000000000000000"}' 2>&1)
check "a key nobody stored gets not_found" \
	sh -c "printf '%s' '$out' | grep -q not_found"

# The routing table survives a restart without --bootstrap.
stop n5
check "n5 restarts without a bootstrap address" \
	start n5 --listen "127.0.5.1:$base"
check "... rejoins from its saved table and finds a record" \
	test "$(get_value n5 "$k19")" = "value-from-19"
done_testing
