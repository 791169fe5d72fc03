#!/bin/sh
# A burst of puts into a network of five nodes: each is answered with its
# key, or with busy (-32004) when every lookup slot is taken (a put goes
# on storing copies after it answered); never with another error.
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
busy=$(grep -c '"code":-32004' "$T/answers")
diag "100 puts: $ok stored, $busy busy"
check "every put answered with its key or busy" test $((ok + busy)) = 100
check "most puts stored" test "$ok" -ge 50
for i in 0 1 2 3 4; do stop "n$i"; done
done_testing
