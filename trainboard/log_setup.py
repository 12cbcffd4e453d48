"""How much the `trainboard` command logs: services (``up``, ``api``, ``worker``, ``migrate``) log what they do;
the commands a person reads (``train``, ``submit``, ``sweep``, ``ls``, ``watch``) print only their own output and
the libraries' warnings. ``-v`` shows INFO everywhere, HTTP requests included, and ``-vv`` DEBUG."""

from __future__ import annotations

import logging

SERVICE_COMMANDS = frozenset({"up", "api", "worker", "migrate"})
# One INFO line per request ("HTTP Request: POST …"): noise in a terminal and in a worker's log alike.
CHATTY_LIBRARIES = ("httpx", "httpcore")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(*, command: str, verbose: int = 0) -> None:
    """Set the root level for ``command`` at verbosity ``verbose`` (the count of ``-v``)."""
    if verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1 or command in SERVICE_COMMANDS:
        level = logging.INFO
    else:
        level = logging.WARNING
    logging.basicConfig(level=level, format=FORMAT)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
