"""`make mutants`: break one guarantee at a time in a scratch copy of the tree and check the tests notice.

Each mutant is a deliberate breakage, written as (file, exact old text, new text), and the test files that guard
that guarantee. The old text must occur exactly once in its file: when the code moves, the check fails loudly
instead of silently testing nothing, and the list is brought back in sync. The working tree is never touched:
the tree (tracked and untracked, not ignored, files) is copied to a temporary folder, each mutant is applied
there, its tests run there with this interpreter (``-x``: the first failure is enough), and the file is restored.

A mutant is *caught* when its tests fail, *missed* when they pass, an *error* when pytest could not run them
(collection error, no test selected, over the time limit). Exit status 1 unless every mutant is caught.

    .venv/bin/python tools/mutants.py              # all of them (2 to 6 minutes on 2 cores)
    .venv/bin/python tools/mutants.py -k spool     # those whose name contains "spool"
    .venv/bin/python tools/mutants.py --list       # names and guarding tests, check that every text matches
    .venv/bin/python tools/mutants.py --baseline   # first each guarding test set unmutated (must pass; +4 min)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT_S = 900  # per mutant; pytest's own per-test timeout (300 s) normally ends a hang first


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments: files, node ids, -k expressions


MUTANTS = (
    Mutant(
        "resume off: a re-queued run restarts from epoch 1",
        "worker/executor.py",
        "            resume=resume,\n",
        "            resume=False,\n",
        ("tests/e2e/test_reliability.py", "-k", "resume"),
    ),
    Mutant(
        "the sweeps routes need no token",
        "backend/request_guard.py",
        'if not path.startswith("/api/") or path.rstrip("/") in PUBLIC_PATHS:',
        'if not path.startswith("/api/") or path.rstrip("/") in PUBLIC_PATHS or path.startswith("/api/sweeps"):',
        ("tests/backend/test_auth.py",),
    ),
    Mutant(
        "artifact uploads open to every role",
        "backend/auth.py",
        '("PUT", _RUN + r"/artifacts/[^/]+", REPORTERS, "uploading artifacts"),',
        '("PUT", _RUN + r"/artifacts/[^/]+", EVERYONE, "uploading artifacts"),',
        ("tests/backend/test_auth.py", "tests/backend/test_artifacts.py"),
    ),
    Mutant(
        "Host check off (DNS rebinding)",
        "backend/request_guard.py",
        "return self.any_host or is_loopback(name) or name in self.allowed_hosts",
        "return True",
        ("tests/backend/test_request_guard.py",),
    ),
    Mutant(
        "cross-site check off",
        "backend/request_guard.py",
        "        if method in STATE_CHANGING:\n",
        '        if method == "TRACE":\n',
        ("tests/backend/test_request_guard.py",),
    ),
    Mutant(
        "cross-site check ignores Origin (Sec-Fetch-Site only)",
        "backend/request_guard.py",
        "        if origin is None:\n",
        "        if True:\n",
        ("tests/backend/test_request_guard.py",),
    ),
    Mutant(
        "ON CONFLICT removed from the metric insert (SQLite)",
        "backend/services/metrics/ingest.py",
        '+ " ON CONFLICT DO NOTHING RETURNING series_id, step, value",',
        '+ " RETURNING series_id, step, value",',
        ("tests/backend/test_metrics_api.py",),
    ),
    Mutant(
        "a retried batch's stored steps packed again (Postgres)",
        "backend/services/metrics/ingest_postgres.py",
        "            if stored:\n",
        "            if False:\n",
        ("tests/backend/test_metrics_api.py",),
    ),
    Mutant(
        "a range read skips the block that starts before the range and runs into it (Postgres)",
        "backend/services/metrics/reads.py",
        "conditions.append(MetricPoint.block_first >= window_of(low))",
        "conditions.append(MetricPoint.block_first >= low)",
        ("tests/backend/test_downsampling.py", "-k", "bounds"),
    ),
    Mutant(
        "the stream sends a metrics event's step spans instead of reading its points back",
        "backend/api/routes/events.py",
        "        data = event_data(session, run_id=run_id, events=events)",
        "        data = [e.data for e in events]",
        ("tests/backend/test_metrics_api.py",),
    ),
    Mutant(
        "deleting a run leaves its points behind (the series go, the points stay)",
        "backend/services/curation.py",
        "    session.execute(delete(points).where(points.series_id.in_(series)))\n",
        "",
        ("tests/backend/test_run_curation.py",),
    ),
    Mutant(
        "a retried log batch counted and announced again (the stored-lines check off)",
        "backend/services/logs.py",
        "            if number in present:\n                continue\n",
        "",
        ("tests/backend/test_logs_api.py",),
    ),
    Mutant(
        "a run's log unbounded (the per-run limit off)",
        "backend/services/logs.py",
        "if full or size.lines >= MAX_LOG_LINES or size.bytes + cost > MAX_LOG_BYTES:",
        "if False:",
        ("tests/backend/test_logs_api.py",),
    ),
    Mutant(
        "the spool skipped: points posted while the API is down are dropped",
        "trainboard/sender.py",
        "            overflow.append(batch.parts)\n",
        "            pass\n",
        ("tests/worker/test_reporter_spool.py", "tests/trainboard/test_sender.py"),
    ),
    Mutant(
        "claim check skipped: a running run can be claimed again",
        "backend/services/runs.py",
        'if not (run.status == "queued" or (run.external',
        'if not (run.status in ("queued", "running") or (run.external',
        ("tests/backend/test_leases.py", "tests/backend/test_runs_api.py"),
    ),
    Mutant(
        "lease check skipped: a stale lease still writes",
        "backend/services/leases.py",
        "if run.lease_hash is None or not hmac.compare_digest(digest(lease), run.lease_hash):",
        "if run.lease_hash is None:",
        ("tests/backend/test_leases.py",),
    ),
    Mutant(
        "non-finite metric values passed through",
        "backend/finite.py",
        "    return value if value is None or math.isfinite(value) else None\n",
        "    return value\n",
        ("tests/backend/test_non_finite.py",),
    ),
    Mutant(
        "non-finite values in summaries and events passed through",
        "backend/finite.py",
        "        return value if math.isfinite(value) else None\n",
        "        return value\n",
        ("tests/backend/test_non_finite.py",),
    ),
    Mutant(
        "run-size check off",
        "trainboard/estimate.py",
        "    if estimate.total_bytes <= limit:\n",
        "    if True:\n",
        ("tests/backend/test_run_size.py", "tests/trainboard/test_estimate.py"),
    ),
    Mutant(
        "HTML artifacts served inline",
        "backend/services/artifacts.py",
        '    ".json": "application/json",\n',
        '    ".json": "application/json",\n    ".html": "text/html",\n',
        ("tests/backend/test_artifacts.py",),
    ),
    Mutant(
        "early termination: the mean instead of the median",
        "backend/services/early_termination.py",
        "if len(others) >= rule.min_peers and mine < statistics.median(others):",
        "if len(others) >= rule.min_peers and mine < statistics.mean(others):",
        ("tests/backend/test_early_termination.py",),
    ),
    Mutant(
        "early termination: runs judged with too few peers",
        "backend/services/early_termination.py",
        "if len(others) >= rule.min_peers and mine",
        "if len(others) >= 1 and mine",
        ("tests/backend/test_early_termination.py",),
    ),
    Mutant(
        "successive halving keeps one run too many",
        "backend/services/early_termination.py",
        "keep = max(1, len(ranked) // eta)",
        "keep = max(1, len(ranked) // eta + 1)",
        ("tests/backend/test_early_termination.py",),
    ),
    Mutant(
        "the worker ignores a request to finish early and trains every epoch",
        "worker/training/run.py",
        " and not callback.should_finish():",
        ":",
        ("tests/e2e/test_early_stop.py",),
    ),
    Mutant(
        "a rolled-back event still wakes its run's streams at the next commit",
        "backend/services/events.py",
        "        session.info.pop(_UNPUBLISHED, None)\n",
        "        pass\n",
        ("tests/backend/test_event_publishing.py",),
    ),
    Mutant(
        "events never wake the streams (the after-commit publish forgotten)",
        "backend/services/events.py",
        "    session.info.setdefault(_UNPUBLISHED, set()).add(run_id)\n",
        "",
        ("tests/backend/test_event_publishing.py",),
    ),
    Mutant(
        "SQLite keeps a retried batch's stored points as new (the plain insert's fallback counts every point)",
        "backend/services/metrics/ingest.py",
        "                all_new = False\n",
        "",
        ("tests/backend/test_metrics_api.py",),
    ),
    Mutant(
        "a key's arrays taken as sent without checking that their steps ascend, each once",
        "backend/schemas.py",
        "all(map(operator.lt, series.step, series.step[1:]))",
        "True",
        ("tests/backend/test_metrics_api.py",),
    ),
    Mutant(
        "a sender facing an API older than batches as arrays drops every batch",
        "trainboard/sender.py",
        "if arrays and _predates_arrays(exc):",
        "if False:",
        ("tests/trainboard/test_sender.py",),
    ),
    Mutant(
        "a rollup block's max at its last step on a tie, not its first",
        "backend/services/metrics/rollups.py",
        "at[numbers.index(vmax)]",
        "at[len(numbers) - 1 - numbers[::-1].index(vmax)]",
        ("tests/backend/test_downsampling.py",),
    ),
    Mutant(
        "a retried batch of points on Postgres commits waiting for the disk (synchronous_commit left on)",
        "backend/services/metrics/ingest_postgres.py",
        "set_config('synchronous_commit', 'off', true)",
        "set_config('synchronous_commit', 'on', true)",
        ("tests/backend/test_event_publishing.py",),
    ),
    Mutant(
        "a batch of points in Postgres's one call commits waiting for the disk",
        "backend/migrations/versions/0015_ingest_functions.py",
        "PERFORM set_config('synchronous_commit', 'off', true);",
        "PERFORM set_config('synchronous_commit', 'on', true);",
        ("tests/backend/test_ingest_postgres.py",),
    ),
    Mutant(
        "no size bound on a config (nor on a summary)",
        "backend/schemas.py",
        "    if size > max_bytes:\n",
        "    if False:\n",
        ("tests/backend/test_run_config.py",),
    ),
    Mutant(
        "a built-in run's config (its spec) replaced by a status report",
        "backend/services/runs.py",
        "            _check_config(run, update)\n",
        "",
        ("tests/backend/test_run_config.py",),
    ),
    Mutant(
        "a key's points counted at every rollup level",
        "backend/services/metrics/keys.py",
        ".where(rollup.run_id == run_id, rollup.width == ROLLUP_WIDTHS[-1])",
        ".where(rollup.run_id == run_id)",
        ("tests/backend/test_metric_keys.py",),
    ),
    Mutant(
        "a runs query's comparison on a key a run lacks is NULL (then `not` drops the run too)",
        "backend/services/run_query_sql.py",
        "    return func.coalesce(clause, false())\n",
        "    return clause\n",
        ("tests/backend/test_run_query.py", "-k", "test_query_selects_the_runs"),
    ),
    Mutant(
        "a runs query's `and` reads as `or`",
        "backend/services/run_query.py",
        'return and_(*parts) if node.kind == "and" else or_(*parts)',
        "return or_(*parts)",
        ("tests/backend/test_run_query.py", "-k", "test_query_selects_the_runs"),
    ),
    Mutant(
        "the runs query is parsed but never reaches the SQL",
        "backend/services/runs.py",
        "        stmt = stmt.where(run_query.condition(q, dialect=session.get_bind().dialect.name))\n",
        "        run_query.condition(q, dialect=session.get_bind().dialect.name)\n",
        ("tests/backend/test_run_query.py", "-k", "2000"),
    ),
    Mutant(
        "a worker takes the multi-GPU queues beyond the GPUs it schedules",
        "trainboard/queue.py",
        "[gpus_queue(count) for count in range(2, gpus + 1)]",
        "[gpus_queue(count) for count in range(2, 65)]",
        ("tests/e2e/test_gpu_scheduling.py", "-k", "bigger"),
    ),
    Mutant(
        "a multi-GPU command run waits with the one-GPU runs",
        "trainboard/queue.py",
        '    if command and name == "cuda" and gpus >= 2:\n',
        "    if False:\n",
        ("tests/backend/test_command_runs.py", "-k", "own_queues"),
    ),
    Mutant(
        "a stop signal does not cut a run's log wait short",
        "worker/run_log.py",
        "hurry=lifecycle.WORKER_STOPPING,",
        "hurry=None,",
        ("tests/worker/test_run_log_stop.py",),
    ),
    Mutant(
        "a 422 echoes its input whole",
        "backend/api/validation_errors.py",
        "    if isinstance(value, str):\n        return value if len(value) <= ECHO_CHARS",
        "    if isinstance(value, str):\n        return value\n        return value if len(value) <= ECHO_CHARS",
        ("tests/backend/test_metrics_api.py", "-k", "huge"),
    ),
    Mutant(
        "one-GPU runs overtake a run waiting for several GPUs",
        "worker/gpus.py",
        "return count == 0 or (self._line[0] is ticket and len(self._free) >= count)",
        "return count == 0 or len(self._free) >= count",
        ("tests/worker/test_gpus.py", "-k", "overtaken"),
    ),
    Mutant(
        "Postgres's one call stores a batch whose points may be stored already",
        "backend/migrations/versions/0015_ingest_functions.py",
        "        outcome := 'overlap';\n        RETURN;\n",
        "        NULL;\n",
        ("tests/backend/test_ingest_postgres.py",),
    ),
    Mutant(
        "Postgres's one call takes points with a wrong lease",
        "backend/migrations/versions/0015_ingest_functions.py",
        "IF NOT FOUND OR run.lease_hash IS DISTINCT FROM p_lease_digest OR",
        "IF NOT FOUND OR",
        ("tests/backend/test_leases.py", "-k", "postgres and wrong"),
    ),
    Mutant(
        "Postgres's rollups keep a block's old minimum",
        "backend/migrations/versions/0015_ingest_functions.py",
        "                    THEN excluded.vmin ELSE o.vmin END,",
        "                    THEN o.vmin ELSE o.vmin END,",
        ("tests/backend/test_downsampling.py", "-k", "postgres and exact"),
    ),
    Mutant(
        "the pool never pings an idle connection",
        "backend/db.py",
        'if time.monotonic() - record.info.get("given_back", float("-inf")) < PING_AFTER_IDLE_S:',
        "if True:",
        ("tests/backend/test_db_reconnect.py",),
    ),
    Mutant(
        "the ingestion's pool never pings an idle connection",
        "backend/db.py",
        'if time.monotonic() - given_back.get(connection, float("-inf")) >= PING_AFTER_IDLE_S:',
        "if False:",
        ("tests/backend/test_db_reconnect.py", "-k", "ingestion_pool"),
    ),
    Mutant(
        "a batch whose ingestion connection was lost fails instead of going to the statements",
        "backend/services/metrics/ingest_postgres.py",
        '        logger.warning("the ingestion\'s connection failed, storing the batch by statements: %s", error)\n',
        "        raise\n",
        ("tests/backend/test_db_reconnect.py", "-k", "just_dropped"),
    ),
    Mutant(
        "a request waits psycopg's default 30 s for a busy ingestion pool",
        "backend/db.py",
        "        timeout=INGEST_WAIT_S,\n",
        "",
        ("tests/backend/test_ingest_postgres.py", "-k", "busy"),
    ),
    Mutant(
        "a batch the awaited call stored wakes no other replica",
        "backend/services/notifier.py",
        '                await self._loop_publisher.publish(f"{CHANNEL_PREFIX}{run_id}", b"1")\n',
        "                pass\n",
        ("tests/e2e/test_distributed.py", "-k", "sse"),
    ),
    Mutant(
        "a batch the awaited call stored wakes no stream",
        "backend/services/metrics/ingest.py",
        "        await wake(run_id)\n",
        "        pass\n",
        ("tests/backend/test_ingest_postgres.py", "-k", "event_loop"),
    ),
    Mutant(
        "deleting a run leaves its rollups (Postgres has no foreign key to cascade them)",
        "backend/services/curation.py",
        "RUN_TABLES = (MetricSeries, MetricRollup, RunEvent, RunLogLine, RunLog)",
        "RUN_TABLES = (MetricSeries, RunEvent, RunLogLine, RunLog)",
        ("tests/backend/test_run_curation.py",),
    ),
    Mutant(
        "non-finite values sent as arrays are kept as they are",
        "backend/schemas.py",
        "        if all(map(math.isfinite, values)):  # type: ignore[arg-type]",
        "        if True:",
        ("tests/backend/test_non_finite.py", "-k", "arrays or spike"),
    ),
)


def check_texts(mutants: tuple[Mutant, ...] | list[Mutant], root: Path) -> list[str]:
    """Why each mutant cannot be applied to the tree at ``root`` (its old text is absent or repeated)."""
    problems = []
    for m in mutants:
        path = root / m.path
        if not path.is_file():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        count = path.read_text().count(m.old)
        if count != 1:
            problems.append(f"{m.name}: the text to replace occurs {count} times in {m.path}, not once:\n{m.old}")
    return problems


def copy_tree(destination: Path) -> None:
    """The working tree's tracked and untracked (not ignored) files, as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(scratch: Path, tests: tuple[str, ...], log: Path) -> tuple[str, float, str]:
    """("passed" | "failed" | "error", seconds, the first failure or the reason)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired as exc:
        log.write_text(str(exc.stdout or ""))
        return "error", time.monotonic() - started, f"over {LIMIT_S} s"
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    log.write_text(output)
    if done.returncode == 0:
        return "passed", seconds, ""
    failures = re.findall(r"^(?:FAILED|ERROR) (.*)$", output, flags=re.MULTILINE)
    if done.returncode == 1 and failures:
        first_error = re.search(r"^E +(.*)$", output, flags=re.MULTILINE)
        return "failed", seconds, failures[0][:300] + (f"\n{'':16}{first_error[1][:300]}" if first_error else "")
    tail = output.strip().splitlines()[-1:] or [""]
    return "error", seconds, f"pytest exit {done.returncode}: {tail[0][:300]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="pattern", default="", help="only mutants whose name contains this (any case)")
    parser.add_argument("--list", action="store_true", help="list the mutants and check their texts; run nothing")
    parser.add_argument("--baseline", action="store_true", help="first check each test set passes unmutated")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and its logs")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.pattern.lower() in m.name.lower()]
    if not chosen:
        print(f"no mutant's name contains {args.pattern!r}", file=sys.stderr)
        return 2
    problems = check_texts(chosen, REPO)
    if problems:
        print("the mutant list is out of sync with the code:\n" + "\n".join(problems), file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.path}  guarded by: {' '.join(m.tests)}")
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="trainboard-mutants-"))
    logs = scratch / ".mutant-logs"
    logs.mkdir()
    print(f"scratch copy: {scratch}", flush=True)
    copy_tree(scratch / "tree")
    tree = scratch / "tree"
    results: list[tuple[str, str, float, str]] = []
    try:
        if args.baseline:
            for index, tests in enumerate(dict.fromkeys(m.tests for m in chosen)):
                outcome, seconds, detail = run_tests(tree, tests, logs / f"baseline-{index}.log")
                print(f"baseline {outcome:6} {seconds:5.0f} s  {' '.join(tests)}  {detail}", flush=True)
                if outcome != "passed":
                    print("the unmutated tree must pass its tests first", file=sys.stderr)
                    return 2
        for index, m in enumerate(chosen, start=1):
            path = tree / m.path
            original = path.read_text()
            path.write_text(original.replace(m.old, m.new, 1))
            try:
                outcome, seconds, detail = run_tests(tree, m.tests, logs / f"mutant-{index:02}.log")
            finally:
                path.write_text(original)
            verdict = {"failed": "caught", "passed": "MISSED", "error": "ERROR"}[outcome]
            results.append((m.name, verdict, seconds, detail))
            print(f"{verdict:6} {seconds:5.0f} s  {m.name}" + (f"\n{'':16}{detail}" if detail else ""), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    caught = sum(verdict == "caught" for _, verdict, _, _ in results)
    print(f"\n{caught} of {len(results)} mutants caught" + (f"; logs in {logs}" if args.keep else ""))
    for name, verdict, _, detail in results:
        if verdict != "caught":
            print(f"  {verdict}: {name} {detail}")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
