"""Quality of the front-line agents on labelled conversations: score, and each detector's precision
and recall, per category and per language.

    .venv/bin/python -m bench.eval_agents CASES.jsonl [CASES.jsonl ...] [--json] [--failures]

Each file is played through `handoff replay` (the real webhook path, a fresh database per
conversation, the offline rules engine unless OPENAI_API_KEY is set) and judged case by case with
the rules of the labelled sets:

- ``expect.handoff`` null: no handoff at all;
- otherwise the handoff happens at turn ``at`` (or from ``from``; a ``loop`` case may hand off one
  turn early), with one of the accepted reasons, to the queue when one is given, with each labelled
  field extracted (the expected value inside the collected one, at most 15 characters longer).

A *detector* is a handoff reason. For each one: a true positive is a case handed off for that
reason where the label accepts it (right turn, accepted reason); a false positive is a handoff for
that reason anywhere else; a false negative is a case whose first accepted reason is that one and
that was not handed off as labelled. Precision = TP / (TP + FP), recall = TP / (TP + FN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REASONS = ("explicit_request", "frustration", "unresolved", "qualified", "menu_selection")


def _norm(value: Any) -> str:
    return " ".join(str(value or "").lower().split())


def field_ok(expected: Any, got: Any) -> bool:
    e, g = _norm(expected), _norm(got)
    return bool(e) and e in g and len(g) <= len(e) + 15


def judge(case: dict[str, Any], out: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether the bot did what the label says, no sooner and no later, and why not."""
    if out is None:
        return False, "no output for this case"
    expect = case["expect"]
    want = expect.get("handoff")
    got = out.get("handoff")
    if want is None:
        if got is None:
            return True, ""
        return False, f"handed off ({got.get('reason')}) at turn {got.get('turn')}, expected none"
    if got is None:
        return False, "no handoff"
    earliest = want.get("from", want["at"] - 1 if case.get("note", "").startswith("loop") else want["at"])
    turn = got.get("turn")
    if turn is None or turn > want["at"]:
        return False, f"handoff too late (turn {turn} > {want['at']})"
    if turn < earliest:
        return False, f"handoff too early (turn {turn} < {earliest})"
    if got.get("reason") not in want["reasons"]:
        return False, f"reason {got.get('reason')} not in {want['reasons']}"
    if want.get("queue") and got.get("queue") != want["queue"]:
        return False, f"queue {got.get('queue')} != {want['queue']}"
    fields = out.get("fields") or {}
    for name, value in (expect.get("fields") or {}).items():
        if not field_ok(value, fields.get(name)):
            return False, f"field {name}={fields.get(name)!r}, want {value!r}"
    return True, ""


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Report:
    """What `evaluate` measured."""

    passed: int = 0
    cases: int = 0
    by_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_language: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    detectors: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    detectors_by_language: dict[tuple[str, str], Counts] = field(default_factory=lambda: defaultdict(Counts))
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    false_handoffs: int = 0
    llm_calls: int = 0
    turns: int = 0

    @property
    def score(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    def as_json(self) -> dict[str, Any]:
        def pr(c: Counts) -> dict[str, Any]:
            return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "precision": c.precision, "recall": c.recall}

        return {
            "score": round(self.score, 3),
            "passed": self.passed,
            "cases": self.cases,
            "false_handoffs": self.false_handoffs,
            "by_category": dict(self.by_category),
            "by_language": dict(self.by_language),
            "detectors": {r: pr(c) for r, c in self.detectors.items()},
            "detectors_by_language": {
                f"{r}/{lang}": pr(c) for (r, lang), c in self.detectors_by_language.items()
            },
            "failures": self.failures,
            "llm_calls_per_turn": round(self.llm_calls / self.turns, 3) if self.turns else None,
        }


def evaluate(cases: Iterable[dict[str, Any]], outputs: Iterable[dict[str, Any]]) -> Report:
    """Judge every case against the replay output with the same id."""
    by_id = {o.get("id"): o for o in outputs}
    report = Report()
    for case in cases:
        out = by_id.get(case["id"])
        ok, why = judge(case, out)
        category, language = case.get("note", "other"), case.get("lang", "?")
        report.cases += 1
        report.passed += ok
        for table, key in ((report.by_category, category), (report.by_language, language)):
            table[key][0] += ok
            table[key][1] += 1
        if not ok:
            report.failures.append((case["id"], category, language, why))
        got = (out or {}).get("handoff")
        want = case["expect"].get("handoff")
        if got is not None and want is None:
            report.false_handoffs += 1
        if out:
            report.llm_calls += int(out.get("llm_calls") or 0)
            report.turns += len(out.get("turns") or [])
        # A detector is credited only when the whole handoff is right except the fields.
        decision_ok = ok or why.startswith("field ")
        got_reason = got.get("reason") if got else None
        for reason in REASONS:
            cells = (report.detectors[reason], report.detectors_by_language[(reason, language)])
            if got_reason == reason:
                for c in cells:
                    if decision_ok:
                        c.tp += 1
                    else:
                        c.fp += 1
            elif want is not None and want["reasons"][0] == reason and not decision_ok:
                for c in cells:
                    c.fn += 1
    return report


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def render(name: str, report: Report, *, failures: bool) -> str:
    lines = [
        f"== {name}: score {report.score:.3f} ({report.passed}/{report.cases}), "
        f"handed off where none expected: {report.false_handoffs}"
    ]
    lines.append("category            passed")
    for key, (p, n) in sorted(report.by_category.items()):
        lines.append(f"  {key:18s}{p:4d}/{n:<4d} {p / n:.3f}")
    lines.append("language            passed")
    for key, (p, n) in sorted(report.by_language.items()):
        lines.append(f"  {key:18s}{p:4d}/{n:<4d} {p / n:.3f}")
    lines.append("detector            tp  fp  fn  precision recall")
    for reason in REASONS:
        c = report.detectors[reason]
        if c.tp + c.fp + c.fn:
            lines.append(
                f"  {reason:17s}{c.tp:4d}{c.fp:4d}{c.fn:4d}  {_fmt(c.precision)}     {_fmt(c.recall)}"
            )
    languages = sorted({lang for _, lang in report.detectors_by_language})
    lines.append("precision/recall by language")
    lines.append("  " + " " * 17 + "".join(f"{lang:>14s}" for lang in languages))
    for reason in REASONS:
        cells = [report.detectors_by_language.get((reason, lang), Counts()) for lang in languages]
        if any(c.tp + c.fp + c.fn for c in cells):
            row = "".join(
                f"{_fmt(c.precision) + '/' + _fmt(c.recall) if c.tp + c.fp + c.fn else '':>14s}"
                for c in cells
            )
            lines.append(f"  {reason:17s}{row}")
    if report.turns:
        lines.append(f"llm calls per turn: {report.llm_calls / report.turns:.2f}")
    if failures:
        lines.extend(f"FAIL {cid} {cat} {lang} {why}" for cid, cat, lang, why in report.failures)
    return "\n".join(lines)


async def replay(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from orchestrator.core.config import load_config
    from orchestrator.runtime.replay import read_cases, replay_cases

    cases = read_cases(path)
    return cases, await replay_cases(cases, at=None, config=load_config(None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--failures", action="store_true", help="list the failing cases")
    args = parser.parse_args(argv)
    import logging

    import structlog

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    for path in args.files:
        cases, outputs = asyncio.run(replay(path))
        report = evaluate(cases, outputs)
        if args.json:
            print(json.dumps({"file": path.name, **report.as_json()}, ensure_ascii=False))
        else:
            print(render(path.name, report, failures=args.failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
