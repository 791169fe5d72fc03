#!/bin/sh
# Contacts without a public way in: with accept_requests off a node
# publishes a closed request rendezvous (no node key), a stranger who
# knows the contact ID gets nowhere, and two people who have both added
# each other still find each other, through the intro rendezvous only
# they can compute.  Turning requests back on lets the stranger in.
. "${top_srcdir:-.}/tests/integration/lib.sh"
base=$((20000 + ($$ + 7) % 20000))

UNTIL_TRIES=300
state_is() { has "$(rpc "$1" contacts.get "{\"id\":\"$2\"}")" "\"state\":\"$3\""; }

check "a starts" start a --listen "127.0.0.1:$base"
check "b starts" start b --listen "127.0.1.1:$base" \
	--bootstrap "127.0.0.1:$base"
check "c starts" start c --listen "127.0.2.1:$base" \
	--bootstrap "127.0.0.1:$base"
check "the three know each other in the DHT" until_true dht_ready a 2
until_true dht_ready b 2
until_true dht_ready c 2
ida=$(field "$(rpc a identity.get)" id)
idb=$(field "$(rpc b identity.get)" id)
idc=$(field "$(rpc c identity.get)" id)

out=$(rpc a settings.set '{"accept_requests":false}')
check "a takes no requests from strangers" has "$out" '"accept_requests":false'
out=$(rpc b settings.set '{"accept_requests":false}')
check "b neither" has "$out" '"accept_requests":false'

# c, a stranger to b, knows b's contact ID
sb0=$(seq_of b)
rpc c contacts.add "{\"id\":\"$idb\",\"greeting\":\"let me in\"}" >/dev/null

# a and b add each other
out=$(rpc a contacts.add "{\"id\":\"$idb\"}")
check "a asks b" has "$out" '"state":"requested_by_us"'
out=$(rpc b contacts.add "{\"id\":\"$ida\"}")
check "b asks a" has "$out" '"state":"requested_by_us"'
check "a and b become contacts (a's side)" until_true state_is a "$idb" accepted
check "... and b's side" until_true state_is b "$ida" accepted
out=$(rpc a messages.send "{\"to\":\"$idb\",\"body\":\"found you\"}")
got() { has "$(rpc b messages.list "{\"with\":\"$ida\"}")" 'found you'; }
check "a's message reaches b" until_true got

# by now c has looked for b more than once and found no way in
check "b got no request from c" test "$(rpc b contacts.list | grep -c "$idc")" = 0
check "c's request is still only c's" state_is c "$idb" requested_by_us

# b opens up: c finds the open rendezvous on its next try (c restarts to
# try at once rather than after its backoff)
rpc b settings.set '{"accept_requests":true}' >/dev/null
stop c
check "c starts again" start c --listen "127.0.2.1:$base" \
	--bootstrap "127.0.0.1:$base"
ev=$("$RPCTOOL" "$T/b.sock" wait contact.request "$sb0")
check "with requests on, c's request reaches b" has "$ev" "\"id\":\"$idc\""
check "... with its greeting" has "$ev" 'let me in'

done_testing
