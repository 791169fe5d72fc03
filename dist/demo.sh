#!/bin/sh
# The README's demo: a local network of parley daemons in a temporary
# directory, driven with the real `parley` command, then stopped.
# It grows with each capability; today two people's daemons form a
# Kademlia DHT on loopback, add each other and chat (request, acceptance,
# safety numbers, delivery and read ticks), and a message written while
# the recipient is offline reaches him through a volunteer's relay while
# the sender is offline too.
# Usage: dist/demo.sh BUILD_DIR
set -eu
build=${1:-build}
parleyd=$build/node/parleyd
parley=$build/cli/parley
dir=$(mktemp -d /tmp/parley-demo.XXXXXX)
trap 'for n in alice bob relay; do "$parley" -s "$dir/$n.sock" rpc node.stop >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$dir|\$DEMO|g"; "$@"; }

port=$((40000 + $$ % 20000))
say "starting alice's parleyd (data in \$DEMO/alice, DHT on udp 127.0.0.1:$port)"
run "$parleyd" --data-dir "$dir/alice" --socket "$dir/alice.sock" \
	--log-file "$dir/alice.log" --listen "127.0.0.1:$port"
say "a volunteer runs a relay: the same daemon with --relay; it joins through alice's node"
run "$parleyd" --data-dir "$dir/relay" --socket "$dir/relay.sock" \
	--log-file "$dir/relay.log" --listen "127.0.2.1:$port" \
	--bootstrap "127.0.0.1:$port" --relay
say "relays advertise themselves in the DHT; anyone can list the volunteers of the hour"
relay_key=""
i=0
until [ -n "$relay_key" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then
		echo "demo: timed out waiting for the relay's advert" >&2
		exit 1
	fi
	sleep 0.1
	relay_key=$("$parley" -s "$dir/alice.sock" -J rpc relay.find |
		sed -n 's/.*"relays":\["\([0-9a-f]*\)".*/\1/p')
done
run "$parley" -s "$dir/alice.sock" relay find
say "starting bob's parleyd; he joins the network through alice's node and picks that volunteer as his home relay"
bob_args="--data-dir $dir/bob --socket $dir/bob.sock --log-file $dir/bob.log --listen 127.0.1.1:$port --bootstrap 127.0.0.1:$port --home-relay $relay_key"
# shellcheck disable=SC2086
run "$parleyd" $bob_args

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

# wait_for DESCRIPTION CMD...: retries CMD (quietly) for up to 20 s
wait_for() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "demo: timed out waiting for $what" >&2
			exit 1
		fi
		sleep 0.1
	done
}
A() { "$parley" -s "$dir/alice.sock" "$@"; }
B() { "$parley" -s "$dir/bob.sock" "$@"; }
shows() { "$@" 2>/dev/null | grep -q "$pattern"; }

say "bob names himself too"
run "$parley" -s "$dir/bob.sock" rpc profile.set '{"name":"Bob"}'
bob_id=$(B -J id | sed -n 's/.*"id":"\([a-z2-7]*\)".*/\1/p')

say "alice adds bob by his contact ID; her node finds his card in the DHT, and since it names a home relay, leaves an X3DH request there (sealed to bob, with a proof of work): the DHT never tells a stranger where bob's node is"
run "$parley" -s "$dir/alice.sock" contact add "$bob_id" --greeting "Hi Bob, it's Alice from the climbing club"
pattern=requested_by_them
wait_for "bob's contact request" shows B -J contact list
say "bob sees the request, with her greeting, and accepts it"
run "$parley" -s "$dir/bob.sock" contact list
run "$parley" -s "$dir/bob.sock" contact accept Alice
pattern='"state":"accepted"'
wait_for "alice's side of the acceptance" shows A -J contact list
run "$parley" -s "$dir/alice.sock" contact list

say "they compare safety numbers (same on both sides: no one in the middle)"
run "$parley" -s "$dir/alice.sock" contact verify Bob
run "$parley" -s "$dir/bob.sock" contact verify Alice

say "alice writes; the message is in her outbox on disk before 'send' returns"
run "$parley" -s "$dir/alice.sock" send Bob "Hi Bob! Climbing on Saturday?"
pattern=Saturday
wait_for "bob to get it" shows B history Alice
run "$parley" -s "$dir/bob.sock" history Alice
say "bob reads it (alice gets a read receipt) and answers"
run "$parley" -s "$dir/bob.sock" read Alice
run "$parley" -s "$dir/bob.sock" send Alice "Yes! 10 am at the usual wall."
pattern='usual wall'
wait_for "alice to get the answer" shows A history Bob
pattern='\[read\]'
wait_for "the read receipt" shows A history Bob
run "$parley" -s "$dir/alice.sock" history Bob

say "bob goes offline; alice writes anyway"
run "$parley" -s "$dir/bob.sock" rpc node.stop
pattern='"presence":"offline"'
wait_for "alice to see bob offline" shows A -J contact list
run "$parley" -s "$dir/alice.sock" send Bob "Bring the rope, I forgot mine."
say "after a few seconds alice's node looks up bob's card, finds his home relay and leaves the message there, sealed"
pattern='"deposited": *1'
wait_for "the message to be left at the relay" shows A rpc relay.status
run "$parley" -s "$dir/relay.sock" relay
run "$parley" -s "$dir/alice.sock" history Bob -n 1
say "alice goes offline too"
run "$parley" -s "$dir/alice.sock" rpc node.stop
say "bob comes back while alice is away: his node fetches from his relay, and the message arrives"
# shellcheck disable=SC2086
run "$parleyd" $bob_args
pattern=rope
wait_for "the message after bob's return" shows B history Alice
run "$parley" -s "$dir/bob.sock" history Alice -n 2
say "the relay deleted it once bob's node had it on disk"
pattern='"items": *0'
wait_for "the relay to be empty" shows "$parley" -s "$dir/relay.sock" rpc relay.status
run "$parley" -s "$dir/relay.sock" relay
say "alice comes back; bob's node acknowledges, and she gets the delivered tick"
run "$parleyd" --data-dir "$dir/alice" --socket "$dir/alice.sock" \
	--log-file "$dir/alice.log" --listen "127.0.0.1:$port" \
	--bootstrap "127.0.2.1:$port"
pattern='rope.*\[delivered\]'
wait_for "the delivered tick" shows A history Bob
run "$parley" -s "$dir/alice.sock" history Bob -n 1
say "everything the apps saw is in bob's event log (messages, presence, receipts)"
run "$parley" -s "$dir/bob.sock" events --since 0 -t message.received

say "stopping the three daemons"
for n in alice bob relay; do run "$parley" -s "$dir/$n.sock" rpc node.stop; done
trap 'rm -rf "$dir"' EXIT
