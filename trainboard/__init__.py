"""trainboard: launch and watch PyTorch training runs. ``Client`` talks to the API; ``start_run(client, spec)``
tracks a run your own script trains."""

from trainboard.client import Client
from trainboard.tracking import start_run

__all__ = ["Client", "start_run"]
