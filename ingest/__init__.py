"""The web process: webhook receiver, health, (later) ops API and dashboard."""

from ingest.app import create_app

__all__ = ["create_app"]
