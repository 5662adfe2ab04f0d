"""The mobile app's backend: exchange, SQLite sessions, its API.

``service`` decides (the code exchange as a confidential client, the session tokens,
refresh, logout, /api/me); ``store`` keeps sessions in a private SQLite file; ``routes``
is the HTTP face the walkthrough app holds and dispatches to; ``wiring`` says which client
the backend is and builds it on first use.
"""
