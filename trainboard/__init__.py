"""trainboard: launch and watch PyTorch training runs. ``Client`` talks to the API."""

from trainboard.client import Client

__all__ = ["Client"]
