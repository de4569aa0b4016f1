"""Django settings and URL maps for Varco's offline SPID/CIE test peers.

Every role (trust anchor, SPID OP, CIE OP, throwaway RP) is its own process
with its own settings module, SQLite file and cookie names. The per-run
values come from environment variables set by ``e2e/spid/peers.py``.
"""
