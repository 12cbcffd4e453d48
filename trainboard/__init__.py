"""trainboard: launch and watch PyTorch training runs, and track your own.

``run = trainboard.init(name=..., config=vars(args))`` tracks the script it is called from (``run.log({...})``,
``run.finish()``: see :mod:`trainboard.script_run`); ``Client`` talks to the API; ``start_run(client, spec)`` is
the lower-level tracking of :mod:`trainboard.tracking`."""

from trainboard.client import Client
from trainboard.script_run import ScriptRun, init
from trainboard.tracking import start_run

__all__ = ["Client", "ScriptRun", "init", "start_run"]
