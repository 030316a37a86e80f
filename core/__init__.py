"""Platform-neutral domain: ids, inbound events, outbound commands, records."""
