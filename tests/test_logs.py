"""Logging: one JSON pipeline for structlog and the standard library, customers' data and secrets kept out.

Each case runs in a subprocess, since logging configuration is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=True
    )
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_json_logs_render_structlog_and_stdlib_records_as_json_lines() -> None:
    lines = _run(
        """
        import logging, structlog
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True)
        structlog.get_logger("turns").info("turn_done", conversation_id=7)
        logging.getLogger("sqlalchemy").warning("pool %s", "full")
        """
    )
    records = [json.loads(line) for line in lines]
    assert records[0]["event"] == "turn_done"
    assert records[0]["conversation_id"] == 7
    assert records[0]["level"] == "info"
    assert records[1]["event"] == "pool full"
    assert records[1]["logger"] == "sqlalchemy"


def test_customer_numbers_and_texts_are_redacted_by_default() -> None:
    lines = _run(
        """
        import structlog
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True)
        structlog.get_logger().info("inbound", wa_id="447700900123", text="my card 4111", kind="text")
        """
    )
    record = json.loads(lines[0])
    assert record["wa_id"] == "[redacted]"
    assert record["text"] == "[redacted]"
    assert record["kind"] == "text"
    assert "447700900123" not in lines[0]


def test_customer_data_is_logged_when_the_deployment_opts_in() -> None:
    lines = _run(
        """
        import structlog
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True, customer_data=True)
        structlog.get_logger().info("inbound", wa_id="447700900123")
        """
    )
    assert json.loads(lines[0])["wa_id"] == "447700900123"


def test_the_verify_token_never_reaches_the_access_log() -> None:
    lines = _run(
        """
        import logging
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET",
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=s3cret-token&hub.challenge=42",
            "1.1", 200,
        )
        """
    )
    assert "s3cret-token" not in "\n".join(lines)
    assert "hub.challenge=42" in json.loads(lines[0])["event"]


def test_tracebacks_are_printed_without_local_variables() -> None:
    lines = _run(
        """
        import structlog
        from orchestrator.core.logs import configure_logging
        configure_logging(json=False)
        def handle(customer_text):
            raise RuntimeError("boom")
        try:
            handle("please call me on 07700 900123")
        except RuntimeError:
            structlog.get_logger().exception("turn_failed")
        """
    )
    output = "\n".join(lines)
    assert "RuntimeError: boom" in output
    assert "07700 900123" not in output


def test_without_the_access_log_uvicorn_has_nowhere_to_write_request_lines() -> None:
    """As in a process of `serve --workers N`, which configures logging after uvicorn has."""
    lines = _run(
        """
        import logging
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True, access_log=False)
        access = logging.getLogger("uvicorn.access")
        print("handlers", access.hasHandlers(), file=__import__("sys").stderr)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", "/webhooks/whatsapp", "1.1", 200)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
        """
    )
    assert lines[0] == "handlers False"
    assert [json.loads(line)["event"] for line in lines[1:]] == ["Started server process [7]"]


def test_uvicorns_colour_copy_and_httpxs_request_lines_stay_out_of_the_log() -> None:
    lines = _run(
        """
        import logging
        from orchestrator.core.logs import configure_logging
        configure_logging(json=True)
        colour = "Started parent process [\\x1b[36m%d\\x1b[0m]"
        error_log = logging.getLogger("uvicorn.error")
        error_log.info("Started parent process [%d]", 7, extra={"color_message": colour})
        logging.getLogger("httpx").info("HTTP Request: POST https://graph.example/v1/messages 200 OK")
        logging.getLogger("httpx").warning("connection pool is full")
        """
    )
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["Started parent process [7]", "connection pool is full"]
    assert "color_message" not in records[0]
