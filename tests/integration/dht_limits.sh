#!/bin/sh
# A node republishes at most 16 records of its own (its contact card and
# request rendezvous among them): puts past that answer store_full with
# the reason, while a new version under a key it holds still goes; never
# any other error.  Five daemons, 20 puts each.
. "${top_srcdir:-.}/tests/integration/lib.sh"
base=$((20000 + $$ % 20000))
check "n0 starts" start n0 --listen "127.0.0.1:$base"
for i in 1 2 3 4; do
	start "n$i" --listen "127.0.$i.1:$base" --bootstrap "127.0.0.1:$base"
done
joined() { for i in 0 1 2 3 4; do dht_ready "n$i" 4 || return 1; done; }
check "the five know each other" until_true joined
: >"$T/answers"
for k in $(seq 1 100); do
	rpc "n$((k % 5))" dht.put "{\"value\":\"v$k\",\"salt\":\"k$k\"}" \
		>>"$T/answers"
done
ok=$(grep -c '"result":{"key"' "$T/answers")
full=$(grep -c '"code":-32003.*republishes at most 16 records' "$T/answers")
diag "100 puts: $ok stored, $full over the limit"
check "each node stored 14 (16 less its card and request rendezvous)" \
	test "$ok" = 70
check "... and answered the rest store_full, naming the limit" \
	test "$full" = 30
again=$(rpc n1 dht.put '{"value":"v1 again","salt":"k1"}')
check "a new version under a key the node holds still goes" \
	has "$again" '"seq":'
for i in 0 1 2 3 4; do stop "n$i"; done
done_testing
