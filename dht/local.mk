# dht/: Kademlia, sans-I/O (DESIGN.md section 4).
