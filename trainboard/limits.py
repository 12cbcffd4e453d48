"""What the API accepts in a metric point, shared by the API's schemas and the clients that check points before
sending them (a key refused at ``run.log`` names the problem at the call, not in a background thread)."""

from __future__ import annotations

import re

# None of these characters needs escaping in JSON: the tracking client writes keys into its request bodies as is.
METRIC_KEY_CHARS = "A-Za-z0-9_.:/-"
METRIC_KEY_MAX_CHARS = 64
METRIC_KEY = re.compile(rf"[{METRIC_KEY_CHARS}]{{1,{METRIC_KEY_MAX_CHARS}}}")  # use with fullmatch
MAX_STEP = 2**62  # well inside a 64-bit database integer

# A run's log (``POST /api/runs/{id}/logs``): a longer line is cut to this many characters (by the API, and by
# the clients before sending, so one huge line never makes a huge request), and one POST carries at most this
# many lines.
LOG_LINE_MAX_CHARS = 8_192
LOG_LINE_CUT_MARK = f" … [cut at {LOG_LINE_MAX_CHARS:,} characters]"  # what a cut line ends with
MAX_LOG_BATCH_LINES = 1_000
