"""Who the dashboard is signed in as."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from backend.api.deps import PrincipalDep, SettingsDep

router = APIRouter(tags=["me"])


class Me(BaseModel):
    name: str
    role: Literal["admin", "user", "read", "worker", "run"]
    auth: Literal["none", "token", "tokens_file"]


@router.get("/me", response_model=Me)
def me(principal: PrincipalDep, settings: SettingsDep) -> Me:
    """The caller's token name and role. `auth` says how the API checks callers: `none` (loopback only, everyone
    is the anonymous admin), `token` (TRAINBOARD_TOKEN) or `tokens_file` (named tokens with roles)."""
    auth: Literal["none", "token", "tokens_file"] = (
        "tokens_file" if settings.tokens_file else "token" if settings.token else "none"
    )
    return Me(name=principal.name, role=principal.role.value, auth=auth)
