"""The rep workspace API (HTTP edge of the human side): one router module per resource, the
request and response schemas, the narrow FastAPI dependencies and the error mapping.

Importing this package loads nothing: the composition root imports `handoff.api.routers`.
"""
