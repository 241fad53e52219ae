"""Model calls per bot turn with the model engine on, against a local OpenAI-compatible server.

    .venv/bin/python -m bench.model_calls [CASES.jsonl ...]

Replays labelled conversations (default: shared/eval/dev.jsonl and tests/eval/extra.jsonl) with the
`openai` client talking HTTP to a local stand-in model that gives a neutral analysis to every turn
(no request for a human, no frustration, an answer it is confident in) and a short summary. The
deterministic signals still decide what they can, so this measures how often the model is consulted.
Last line: JSON with `turns`, `llm_calls`, `calls_per_turn`, `p50_turn_ms`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agents.llm import LLMClient
from orchestrator.runtime.replay import read_cases, replay_cases
from tests.fakes.servers import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
NEUTRAL = {
    "language": "en",
    "wants_human": False,
    "wants_human_evidence": None,
    "frustrated": False,
    "frustration_score": 0.0,
    "frustration_evidence": None,
    "fields": [],
    "answer": "Here is what I can tell you about that.",
    "answer_confidence": 0.9,
    "can_answer": True,
    "open_questions": [],
}
SUMMARY = {"summary": "The customer needs a person.", "open_questions": [], "promises": []}


def stand_in_model() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        name = (body.get("response_format") or {}).get("json_schema", {}).get("name", "")
        content = SUMMARY if "Summary" in name else NEUTRAL
        return JSONResponse(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(content), "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 400, "completion_tokens": 60, "total_tokens": 460},
            }
        )

    return app


async def measure(paths: list[Path], base_url: str) -> dict[str, float]:
    cases = [case for path in paths for case in read_cases(path)]
    llm = LLMClient(api_key="bench", model="bench-model", base_url=base_url, timeout=5, deadline=8)
    started = time.perf_counter()
    try:
        results = await replay_cases(cases, llm=llm)
    finally:
        await llm.aclose()
    elapsed_ms = (time.perf_counter() - started) * 1000
    turns = sum(len(r["turns"]) for r in results)
    calls = sum(int(r["llm_calls"]) for r in results)
    per_case = [elapsed_ms / max(1, len(results))]
    return {
        "cases": len(results),
        "turns": turns,
        "llm_calls": calls,
        "calls_per_turn": round(calls / turns, 3) if turns else 0.0,
        "mean_case_ms": round(statistics.fmean(per_case), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.cases or [
        ROOT.parent / "shared" / "eval" / "dev.jsonl",
        ROOT / "tests" / "eval" / "extra.jsonl",
    ]
    with serve_in_thread(stand_in_model()) as url:
        print(json.dumps(asyncio.run(measure([p for p in paths if p.is_file()], url + "/v1"))))


if __name__ == "__main__":
    main()
