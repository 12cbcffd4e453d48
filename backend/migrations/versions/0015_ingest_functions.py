"""Postgres stores a batch of points in one call: ``trainboard_add_points`` locks the run, checks the lease, finds or
creates the batch's series, writes its blocks, folds its rollups and appends its ``metrics`` event, all on the
server. The same batch took nine round trips and as many statements parsed and sent by Python (the lock, the
series, the overlap, the COPY, the rollups, the event, the transaction's own), about half of a 1,000-point request
on Postgres (docs/BENCHMARKS.md, §1).

The function stores a batch only when none of its points can already be stored (no stored block of its series
overlaps its steps), and the caller's Python has computed the rollups of those points; otherwise it writes nothing
but the series and says why, and the caller stores the batch statement by statement as before
(``backend/services/metrics/ingest.py``). ``trainboard_fold_rollups`` is the rollup upsert both ways use.

``metric_rollups`` loses its foreign key to ``runs`` on Postgres: a 1,000-point batch writes about 18 rollup rows,
and checking each against ``runs`` cost 76 of the call's 470 microseconds (6 % of the whole request, measured
alternating). Like ``metric_blocks``, which never had one, the rows go when their run is deleted because
``curation._delete_rows`` deletes them, not by ``ON DELETE CASCADE``.

SQLite is left as it is: its statements cost no round trip, and its foreign-key checks are cheap.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Fold new blocks' extremes into the stored ones (rollups.fold in SQL): the lower min and the higher max, the earlier
# step on a tie (a row comparison: the value first, then the step, negated for the max); a comparison with a NULL is
# not true, so a NULL value never replaces a number, and a block of NULLs only keeps its earliest step.
FOLD_ROLLUPS = """
CREATE FUNCTION trainboard_fold_rollups(
    p_run integer, p_keys text[], p_key integer[], p_width integer[], p_bucket bigint[], p_n integer[],
    p_vmin float8[], p_vmax float8[], p_step_min bigint[], p_step_max bigint[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_rollups AS o (run_id, key, width, bucket, n, vmin, vmax, step_min, step_max)
    SELECT p_run, p_keys[u.k], u.width, u.bucket, u.n, u.vmin, u.vmax, u.step_min, u.step_max
    FROM unnest(p_key, p_width, p_bucket, p_n, p_vmin, p_vmax, p_step_min, p_step_max)
        AS u(k, width, bucket, n, vmin, vmax, step_min, step_max)
    ON CONFLICT (run_id, key, width, bucket) DO UPDATE SET
        n = o.n + excluded.n,
        vmin = CASE WHEN (excluded.vmin, excluded.step_min) < (o.vmin, o.step_min)
                      OR (o.vmin IS NULL AND (excluded.vmin IS NOT NULL OR excluded.step_min < o.step_min))
                    THEN excluded.vmin ELSE o.vmin END,
        step_min = CASE WHEN (excluded.vmin, excluded.step_min) < (o.vmin, o.step_min)
                          OR (o.vmin IS NULL AND (excluded.vmin IS NOT NULL OR excluded.step_min < o.step_min))
                        THEN excluded.step_min ELSE o.step_min END,
        vmax = CASE WHEN (excluded.vmax, -excluded.step_max) > (o.vmax, -o.step_max)
                      OR (o.vmax IS NULL AND (excluded.vmax IS NOT NULL OR excluded.step_max < o.step_max))
                    THEN excluded.vmax ELSE o.vmax END,
        step_max = CASE WHEN (excluded.vmax, -excluded.step_max) > (o.vmax, -o.step_max)
                          OR (o.vmax IS NULL AND (excluded.vmax IS NOT NULL OR excluded.step_max < o.step_max))
                        THEN excluded.step_max ELSE o.step_max END;
END $$
"""

# Blocks: per block of the batch, its key (an index into p_keys), the first step of its window of steps, and the
# first and last index of its points in p_steps and p_vals (1-based, inclusive). Outcomes: 'refused' (no such run, a
# wrong lease, or an attempt that already ended: nothing written, the caller says which), 'overlap' (a stored block of
# a series overlaps the batch's steps: only the series written), 'stored', and 'stored, check' (stored, and the run
# is in a sweep that has not asked it to stop: the caller checks its early-termination rule).
ADD_POINTS = """
CREATE FUNCTION trainboard_add_points(
    p_run integer, p_lease_digest text, p_ended text[], p_keys text[],
    p_block_key integer[], p_block_window bigint[], p_block_lo integer[], p_block_hi integer[],
    p_steps bigint[], p_vals float8[],
    p_roll_key integer[], p_roll_width integer[], p_roll_bucket bigint[], p_roll_n integer[],
    p_roll_vmin float8[], p_roll_vmax float8[], p_roll_step_min bigint[], p_roll_step_max bigint[],
    p_kind text, p_event json,
    OUT outcome text, OUT status text, OUT stop_requested text
) LANGUAGE plpgsql AS $$
DECLARE
    run record;
    ids integer[];
    next_seq bigint;
BEGIN
    -- The commit returns before its WAL reaches the disk, as SQLite's synchronous=NORMAL (docs/RELIABILITY.md).
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT r.status, r.lease_hash, r.event_seq, r.stop_requested, r.sweep_id INTO run
    FROM runs r WHERE r.id = p_run FOR UPDATE;
    -- Digests compared, not leases: how long the comparison takes tells nothing about the lease itself.
    IF NOT FOUND OR run.lease_hash IS DISTINCT FROM p_lease_digest OR run.status = ANY(p_ended) THEN
        outcome := 'refused';
        RETURN;
    END IF;
    status := run.status;
    stop_requested := run.stop_requested;
    INSERT INTO metric_series (run_id, key)
    SELECT p_run, k FROM unnest(p_keys) AS k
    WHERE NOT EXISTS (SELECT 1 FROM metric_series s WHERE s.run_id = p_run AND s.key = k);
    SELECT array_agg(s.id ORDER BY u.i) INTO ids
    FROM unnest(p_keys) WITH ORDINALITY AS u(k, i) JOIN metric_series s ON s.run_id = p_run AND s.key = u.k;
    -- A lateral subquery with a LIMIT, so each block looks in the primary key: a join was planned as a scan of
    -- every block (110 of a call's 620 microseconds at 300,000 points).
    IF EXISTS (
        SELECT 1 FROM unnest(p_block_key, p_block_window, p_block_lo, p_block_hi) AS w(k, first_step, lo, hi)
        CROSS JOIN LATERAL (
            SELECT 1 FROM metric_blocks b WHERE b.series_id = ids[w.k] AND b.first_step >= w.first_step
            AND b.first_step <= p_steps[w.hi] AND b.last_step >= p_steps[w.lo] LIMIT 1
        ) AS stored
    ) THEN
        outcome := 'overlap';
        RETURN;
    END IF;
    next_seq := run.event_seq + 1;
    INSERT INTO metric_blocks (series_id, seq, first_step, last_step, steps, vals)
    SELECT ids[w.k], next_seq, p_steps[w.lo], p_steps[w.hi], p_steps[w.lo:w.hi], p_vals[w.lo:w.hi]
    FROM unnest(p_block_key, p_block_lo, p_block_hi) AS w(k, lo, hi);
    PERFORM trainboard_fold_rollups(p_run, p_keys, p_roll_key, p_roll_width, p_roll_bucket, p_roll_n,
                                    p_roll_vmin, p_roll_vmax, p_roll_step_min, p_roll_step_max);
    UPDATE runs SET event_seq = next_seq WHERE id = p_run;
    INSERT INTO run_events (run_id, seq, kind, data, created_at) VALUES (p_run, next_seq, p_kind, p_event, now());
    outcome := CASE WHEN run.sweep_id IS NOT NULL AND run.stop_requested IS NULL THEN 'stored, check' ELSE 'stored' END;
END $$
"""


ROLLUPS_RUN_FK = "fk_metric_rollups_run_id_runs"  # revision 0003's name


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FOLD_ROLLUPS)
    op.execute(ADD_POINTS)
    op.drop_constraint(ROLLUPS_RUN_FK, "metric_rollups", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DELETE FROM metric_rollups r WHERE NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = r.run_id)")
    op.create_foreign_key(ROLLUPS_RUN_FK, "metric_rollups", "runs", ["run_id"], ["id"], ondelete="CASCADE")
    op.execute("DROP FUNCTION trainboard_add_points")
    op.execute("DROP FUNCTION trainboard_fold_rollups")
