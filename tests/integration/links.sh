#!/bin/sh
# Noise links between two real daemons over loopback UDP (the same socket
# as the DHT): a handshake started through the API completes on both
# sides, each reports it as an event, and the counters agree.
. "${top_srcdir:-.}/tests/integration/lib.sh"
base=$((20000 + $$ % 20000))

check "a starts" start a --listen "127.0.0.1:$base"
check "b starts" start b --listen "127.0.1.1:$base"
bkey=$(field "$(rpc b node.status)" node_key)
check "node.status gives b's node key" test ${#bkey} = 64
sa=$(field "$(rpc a node.status)" events_last_seq)
sb=$(field "$(rpc b node.status)" events_last_seq)
"$RPCTOOL" "$T/a.sock" wait link.established "$sa" >"$T/ea" &
wa=$!
"$RPCTOOL" "$T/b.sock" wait link.established "$sb" >"$T/eb" &
wb=$!
out=$(rpc a links.connect "{\"key\":\"$bkey\",\"addr\":\"127.0.1.1:$base\"}")
check "links.connect starts a handshake" \
	sh -c "printf '%s' '$out' | grep -q '\"started\":true'"
check "a reports link.established" wait $wa
check "b reports link.established" wait $wb
check "... with b's key on a's side" grep -q "\"key\":\"$bkey\"" "$T/ea"
check "... and a's address on b's side" grep -q '"addr":"127.0.0.1:' "$T/eb"
st=$(rpc a links.status "{\"key\":\"$bkey\"}")
check "links.status on a: established, a initiated" \
	sh -c "printf '%s' '$st' | grep -q '\"established\":true' &&
	       printf '%s' '$st' | grep -q '\"initiator\":true'"
check "links.status on b counts one handshake" \
	test "$(field "$(rpc b links.status)" handshakes_done)" = 1
out=$(rpc a links.connect '{"key":"zz","addr":"127.0.0.1:1"}')
check "a bad key is refused with the field named" \
	sh -c "printf '%s' '$out' | grep -q '\"field\":\"key\"'"
out=$(rpc a links.status '{"key":"0000000000000000000000000000000000000000000000000000000000000000"}')
check "status of an unknown peer is not_found" \
	sh -c "printf '%s' '$out' | grep -q not_found"
stop a
stop b
done_testing
