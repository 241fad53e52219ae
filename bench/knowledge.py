"""How the offline responder's knowledge matching does on labelled customer questions.

    .venv/bin/python -m bench.knowledge QUESTIONS.jsonl [...] [--config FILE] [--misses]

Each line is ``{"text": ..., "entry": <knowledge entry id or null>, "lang": ...}``. Every text is
matched as the responder matches it (the greeting in front removed, then `KnowledgeBase.best` with
the configured threshold), once with the whole-question similarity alone and once with the topic
words as well. For each: answered right, answered with the wrong entry, not answered though an
entry fits (a fallback, and two in a row are an `unresolved` handoff), and answered where no entry
fits (the customer gets an answer to another question).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from agents.responder import KnowledgeBase, KnowledgeMatch
from agents.sentinel.basics import strip_social
from orchestrator.core.config import load_config


def _outcome(expected: str | None, got: KnowledgeMatch | None) -> str:
    if expected is None:
        return "right" if got is None else "answered_none"
    if got is None:
        return "missed"
    return "right" if got.entry.id == expected else "wrong"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--config", type=Path, default=None, help="configuration file (default: the defaults)"
    )
    parser.add_argument("--misses", action="store_true", help="print every line matched wrongly")
    args = parser.parse_args()
    config = load_config(args.config)
    kb = KnowledgeBase(config.knowledge, config.agents.knowledge_threshold)
    for path in args.files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        print(f"{path.name}: {len(rows)} questions, {sum(r['entry'] is None for r in rows)} with no entry")
        for label, match in (("similar only", kb.similar), ("similar + words", kb.best)):
            counts: Counter[str] = Counter()
            by_lang: Counter[str] = Counter()
            for row in rows:
                got = match(strip_social(row["text"]) or row["text"])
                outcome = _outcome(row["entry"], got)
                counts[outcome] += 1
                if outcome != "right":
                    by_lang[row.get("lang", "?")] += 1
                    if args.misses and label != "similar only":
                        entry = got.entry.id if got else None
                        print(f"    {outcome:13} want {row['entry']!s:15} got {entry!s:15} {row['text']}")
            answerable = sum(r["entry"] is not None for r in rows)
            print(
                f"  {label:16} right {counts['right']}/{len(rows)} ({counts['right'] / len(rows):.1%}); "
                f"answerable: missed {counts['missed']}/{answerable}, wrong entry {counts['wrong']}; "
                f"no entry: answered {counts['answered_none']}/{len(rows) - answerable}; "
                f"errors by language {dict(sorted(by_lang.items()))}"
            )


if __name__ == "__main__":
    main()
