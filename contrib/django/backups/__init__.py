"""The platform's `backups` app, as celeriac's catalog stores it (see docs/catalog.md)."""
