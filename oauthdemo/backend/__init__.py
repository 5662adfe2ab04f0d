"""The mobile app's backend: exchange, SQLite sessions, its API."""
