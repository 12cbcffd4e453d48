"""Hyperparameter importance across runs: what the compare and sweep pages chart as bars."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import MAX_ID, SessionDep
from backend.schemas import ImportanceOut
from backend.services import importance

router = APIRouter(prefix="/importance", tags=["runs"])


@router.get("", response_model=ImportanceOut)
def get_importance(
    session: SessionDep,
    runs: Annotated[str, Query(max_length=12000, description="run ids, comma-separated, e.g. 1,2,3")],
    metric: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="summary.<key> (e.g. summary.best_valid_acc), or a logged key (e.g. valid_acc): its best point",
        ),
    ],
    goal: Annotated[
        Literal["maximize", "minimize"] | None,
        Query(description="default: minimize a loss, error, duration or size; maximize anything else"),
    ] = None,
) -> ImportanceOut:
    """The importance of each config key that varies among the runs for reaching the best values of `metric`
    (Optuna's PED-ANOVA; the importances sum to 1). Runs without a value of the metric are left out and listed
    in `skipped`. Fewer than 3 runs with the metric, or no varied config key: 422 saying so."""
    run_ids = parse_ids(runs)
    try:
        found = importance.param_importance(
            session, run_ids=run_ids, metric=metric, goal=goal or importance.default_goal(metric)
        )
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except importance.ImportanceError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return ImportanceOut(**vars(found))


def parse_ids(text: str) -> list[int]:
    """``"1, 2,3"`` → ``[1, 2, 3]`` (each id once, in order); anything else is a 422 naming ``runs``."""
    ids: list[int] = []
    for part in re.split(r"[\s,]+", text):
        if not part:
            continue
        if not re.fullmatch(r"[0-9]{1,10}", part) or not 1 <= int(part) <= MAX_ID:
            raise HTTPException(
                status_code=422,
                detail=f"runs: {part[:40]!r} is not a run id (give ids like 1,2,3)",
            )
        if int(part) not in ids:
            ids.append(int(part))
    return ids
