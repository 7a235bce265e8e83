"""Catalog HTTP service: one JSON record per Thai public e-service (see docs/catalog-record.md)."""

__version__ = "0.1.0"
