"""Every router of the rep API, in the order the OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.api import (
    admin,
    audit,
    auth,
    composer,
    conversations,
    me,
    media,
    metrics,
    queues,
    reps,
    stream,
    team,
    workspace,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    me.router,
    conversations.router,
    media.router,
    queues.router,
    reps.router,
    audit.router,
    stream.router,
    admin.router,
    metrics.router,
    workspace.router,
    composer.router,
    team.router,
)
