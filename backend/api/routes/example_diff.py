"""Which test examples changed between two built-in runs, and the thumbnails of those examples."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from backend.api.deps import MAX_ID, RunId, SessionDep, SettingsDep
from backend.schemas import ChangedExampleOut, ChangedSetOut, ExampleDiffOut
from backend.services import example_diff
from backend.services.artifacts import serving_headers

router = APIRouter(prefix="/runs/{run_id}", tags=["artifacts"])

MAX_EXAMPLES = 1000
OtherId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="run B's id")]


@router.get("/diff/{other_id}", response_model=ExampleDiffOut)
def get_example_diff(
    run_id: RunId,
    other_id: OtherId,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_EXAMPLES, description="examples per set")] = 100,
    offset: Annotated[int, Query(ge=0, description="examples of each set to skip")] = 0,
) -> ExampleDiffOut:
    """The test examples run A (this run) gets wrong and run B right (`fixed`), and those A gets right and B wrong
    (`broken`), each with its label, both predictions and confidences and a thumbnail URL, from the predictions
    both built-in runs stored at their best epoch. 422 when either run is not a built-in one or the two were
    tested on different datasets; 409 when a run has no stored predictions (it has not finished)."""
    try:
        changed = example_diff.changed_examples(session, root=settings.artifacts_dir, a=run_id, b=other_id)
    except example_diff.ExampleDiffError as error:
        raise HTTPException(status_code=error.status, detail=str(error)) from None
    return ExampleDiffOut(
        a=run_id,
        b=other_id,
        dataset=changed.dataset,
        n=changed.n,
        acc_a=changed.acc_a,
        acc_b=changed.acc_b,
        fixed=_page(changed.fixed, limit=limit, offset=offset),
        broken=_page(changed.broken, limit=limit, offset=offset),
    )


@router.get("/test-images/{index}.png", response_class=Response)
def get_test_image(
    run_id: RunId, index: Annotated[int, PathParam(ge=0, le=MAX_ID)], session: SessionDep, settings: SettingsDep
) -> Response:
    """The thumbnail of test example `index` (PNG), for an example this run got wrong."""
    try:
        png = example_diff.thumbnail_png(session, root=settings.artifacts_dir, run_id=run_id, index=index)
    except example_diff.ExampleDiffError as error:
        raise HTTPException(status_code=error.status, detail=str(error)) from None
    if png is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} stored no thumbnail of test example {index}")
    headers = {**serving_headers("thumbnail.png"), "Cache-Control": "private, max-age=3600"}
    return Response(png, media_type="image/png", headers=headers)


def _page(examples: list[dict[str, object]], *, limit: int, offset: int) -> ChangedSetOut:
    page = examples[offset : offset + limit]
    return ChangedSetOut(count=len(examples), examples=[ChangedExampleOut.model_validate(e) for e in page])
