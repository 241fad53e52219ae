# The service image: one image, two roles (`handoff serve` for the API, `handoff worker` for background
# work), dependencies installed from the lock file.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
RUN pip install --no-cache-dir "uv>=0.8" \
    && useradd --create-home --uid 10001 handoff

# Dependencies first (cached while only the source changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY orchestrator ./orchestrator
COPY agents ./agents
COPY handoff ./handoff
COPY prompts ./prompts
# The project's own modules compiled too (UV_COMPILE_BYTECODE covers the dependencies): a start
# reads bytecode instead of compiling every module, about 2 s less to healthy.
RUN uv sync --frozen --no-dev && python -m compileall -q orchestrator agents handoff \
    && mkdir -p /app/var && chown handoff /app/var

USER handoff
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["handoff", "serve", "--host", "0.0.0.0", "--port", "8000"]
