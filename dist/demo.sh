#!/bin/sh
# The README's demo: a local network of parley daemons in a temporary
# directory, driven with the real `parley` command, then stopped.
# It grows with each capability; today the daemons form a Kademlia DHT on
# loopback and exchange signed records through it (messaging lands next).
# Usage: dist/demo.sh BUILD_DIR
set -eu
build=${1:-build}
parleyd=$build/node/parleyd
parley=$build/cli/parley
dir=$(mktemp -d /tmp/parley-demo.XXXXXX)
trap 'for n in alice bob; do "$parley" -s "$dir/$n.sock" rpc node.stop >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$dir|\$DEMO|g"; "$@"; }

port=$((40000 + $$ % 20000))
say "starting alice's parleyd (data in \$DEMO/alice, DHT on udp 127.0.0.1:$port)"
run "$parleyd" --data-dir "$dir/alice" --socket "$dir/alice.sock" \
	--log-file "$dir/alice.log" --listen "127.0.0.1:$port"
say "starting bob's parleyd; he joins the network through alice's node"
run "$parleyd" --data-dir "$dir/bob" --socket "$dir/bob.sock" \
	--log-file "$dir/bob.log" --listen "127.0.1.1:$port" \
	--bootstrap "127.0.0.1:$port"

say "alice asks her daemon how it is"
run "$parley" -s "$dir/alice.sock" status

say "alice's identity: the contact ID she gives to friends"
run "$parley" -s "$dir/alice.sock" id
run "$parley" -s "$dir/alice.sock" id --qr

say "bob has his own, unrelated identity"
run "$parley" -s "$dir/bob.sock" id

say "alice names herself; every change is an event in a log that survives restarts"
run "$parley" -s "$dir/alice.sock" rpc profile.set '{"name":"Alice"}'
run "$parley" -s "$dir/alice.sock" events --since 0

say "alice publishes a signed record in the DHT; bob finds it by its key"
key=$("$parley" -J -s "$dir/alice.sock" rpc dht.put '{"value":"hello from alice","salt":"demo"}' |
	sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p')
printf '$ parley -s $DEMO/alice.sock rpc dht.put {"value":"hello from alice","salt":"demo"}\n  -> key %s\n' "$key"
run "$parley" -s "$dir/bob.sock" rpc dht.get "{\"key\":\"$key\"}"
run "$parley" -s "$dir/bob.sock" rpc dht.status

say "alice restarts her daemon: same identity, event numbers go on"
run "$parley" -s "$dir/alice.sock" rpc node.stop
run "$parleyd" --data-dir "$dir/alice" --socket "$dir/alice.sock" \
	--log-file "$dir/alice.log" --listen "127.0.0.1:$port"
run "$parley" -s "$dir/alice.sock" id
run "$parley" -s "$dir/alice.sock" events --since 2

say "stopping both daemons"
for n in alice bob; do run "$parley" -s "$dir/$n.sock" rpc node.stop; done
trap 'rm -rf "$dir"' EXIT
