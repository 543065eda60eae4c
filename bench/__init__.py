"""Speed benchmark for the CDS Hooks service (issue 6): `python -m bench`.

Everything here talks to the service through its public interfaces (the ASGI app and HTTP),
so it measures whatever the hooks do today and keeps working as they grow.
"""
