"""The webhook's FastAPI dependency: the running service (the rep API reads narrower ones, see
`handoff.api.deps`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from orchestrator.runtime.container import Service


async def get_service(request: Request) -> Service:  # async: a plain function runs in a thread
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
