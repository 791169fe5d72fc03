# cli/: the parley command; speaks only the socket protocol.
