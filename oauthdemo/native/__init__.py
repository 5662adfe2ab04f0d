"""Native apps (RFC 8252): loopback server, CLI login, mobile app, token cache."""
