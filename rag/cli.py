"""``fintune kb``: build, import, search and inspect the glossary knowledge base (honours ``$FINTUNE_HOME``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

PROGRESS_MIN = 500  # show a progress bar when embedding at least this many texts


def register(sub) -> None:
    kb = sub.add_parser("kb", help="Glossary knowledge base: build, import, search, stats.",
                        description="The glossary knowledge base behind RAG answers (stored in $FINTUNE_HOME/kb).")
    kb.add_argument("--encoder", default=None, help="Sentence encoder (default all-MiniLM-L6-v2, or env FINTUNE_KB_ENCODER); "
                    "a different encoder than the index was built with triggers a rebuild.")
    kbsub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND")
    kb.set_defaults(func=lambda args: (kb.print_help(), 2)[1])

    p = kbsub.add_parser("build", help="Build (or repair) the index; keeps imported entries unless --reset.")
    p.add_argument("--reset", action="store_true", help="Drop imported glossaries and keep only the built-in one.")
    p.set_defaults(func=cmd_build)

    p = kbsub.add_parser("import", help="Add entries from a CSV, JSON or JSONL glossary file.")
    p.add_argument("file", help="Glossary file: .csv/.tsv (header row), .json (list of objects) or .jsonl.")
    p.add_argument("--source", default=None, help="Source name shown with each hit (default: the file name).")
    p.add_argument("--map", dest="mapping", action="append", default=None, metavar="FIELD=COLUMN",
                   help="Map a field to a column, e.g. --map term=Name --map definition=Gloss (fields: term, definition, synonyms, category, source).")
    p.add_argument("--format", dest="fmt", choices=("csv", "tsv", "json", "jsonl"), default=None, help="Override format detection.")
    p.add_argument("--skip-invalid", action="store_true", help="Import the valid rows and report the invalid ones instead of refusing the file.")
    p.add_argument("--json", action="store_true", help="Print the import report as JSON.")
    p.set_defaults(func=cmd_import)

    p = kbsub.add_parser("search", help="Search the glossary; '-' reads one query per line from stdin.")
    p.add_argument("query", help="A term or question, or '-' to read one query per line from standard input.")
    p.add_argument("--k", type=int, default=None, help="Number of definitions (default 5).")
    p.add_argument("--threshold", type=float, default=None, help="Minimum score (default 0.45); lower it to see weaker matches.")
    p.add_argument("--mode", choices=("hybrid", "dense"), default="hybrid", help="hybrid (default) or dense-only ranking.")
    p.add_argument("--json", action="store_true", help="One JSON object per query: {query, hits: [{term, definition, source, score}]}.")
    p.set_defaults(func=cmd_search)

    p = kbsub.add_parser("stats", help="Entries per source, encoder, index type and location.")
    p.add_argument("--json", action="store_true", help="Print as JSON.")
    p.set_defaults(func=cmd_stats)


# ----- helpers -------------------------------------------------------------------------------------
class _Bars:
    """A tqdm bar per phase on stderr, only for large jobs."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}

    def __call__(self, done: int, total: int, desc: str) -> None:
        if total < PROGRESS_MIN:
            return
        bar = self._bars.get(desc)
        if bar is None:
            from tqdm import tqdm

            bar = self._bars[desc] = tqdm(total=total, desc=desc, unit="text", file=sys.stderr, leave=False)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _config(args):
    from rag.config import RagConfig

    return RagConfig(encoder=args.encoder) if getattr(args, "encoder", None) else RagConfig()


def _open(args, bars: _Bars | None = None):
    from rag.glossary import Glossary

    glossary = Glossary.open(config=_config(args), progress=bars)
    for notice in glossary.notices:
        print(f"note: {notice}", file=sys.stderr)
    return glossary


# ----- commands --------------------------------------------------------------------------------------
def cmd_build(args) -> int:
    bars = _Bars()
    try:
        glossary = _open(args, bars)
        count = glossary.rebuild(reset=args.reset, progress=bars)
    finally:
        bars.close()
    stats = glossary.stats()
    sources = ", ".join(f"{name}: {n}" for name, n in stats["sources"].items())
    print(f"Built the glossary index: {count} entries ({sources}), {stats['index_type']} index, encoder {stats['encoder']}, in {stats['path']}")
    return 0


def cmd_import(args) -> int:
    from rag.loaders import parse_mapping

    mapping = parse_mapping(args.mapping)
    bars = _Bars()
    try:
        glossary = _open(args, bars)
        report = glossary.import_file(args.file, source=args.source, mapping=mapping, skip_invalid=args.skip_invalid, fmt=args.fmt, progress=bars)
    finally:
        bars.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
        for problem in report.problems:
            print(f"  skipped {problem}")
    return 0


def _hits_json(query: str, hits) -> str:
    return json.dumps({"query": query, "hits": [{"term": h.term, "definition": h.definition, "source": h.source, "score": round(h.score, 4)} for h in hits]},
                      ensure_ascii=False)


def _print_hits(query: str, hits, threshold: float) -> None:
    if not hits:
        print(f"No relevant definition for {query!r} (nothing scored above {threshold:.2f}).")
        return
    for rank, h in enumerate(hits, 1):
        definition = h.definition if len(h.definition) <= 240 else h.definition[:237] + "..."
        print(f"{rank}. {h.term}  [{h.source}]  score {h.score:.3f}")
        print(f"   {definition}")


def cmd_search(args) -> int:
    glossary = _open(args)
    threshold = glossary.config.threshold if args.threshold is None else args.threshold
    if args.query != "-":
        hits = glossary.search(args.query, args.k, mode=args.mode, threshold=args.threshold)
        if args.json:
            print(_hits_json(args.query, hits))
        else:
            _print_hits(args.query, hits, threshold)
        return 0
    # One query per line from stdin; index and encoder load once; batches keep memory flat on long inputs.
    batch: list[str] = []

    def flush() -> None:
        for query, hits in zip(batch, glossary.search_many(batch, args.k, mode=args.mode, threshold=args.threshold)):
            if args.json:
                print(_hits_json(query, hits))
            else:
                print(f"== {query}")
                _print_hits(query, hits, threshold)
        sys.stdout.flush()
        batch.clear()

    for line in sys.stdin:
        query = line.strip()
        if query:
            batch.append(query)
            if len(batch) >= 64:
                flush()
    if batch:
        flush()
    return 0


def cmd_stats(args) -> int:
    stats = _open(args).stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    print(f"Entries: {stats['entries']}")
    for name, count in sorted(stats["sources"].items(), key=lambda kv: (kv[0] != "builtin", kv[0])):
        origin = (stats["imports"].get(name) or {}).get("file", "")
        print(f"  {name:<28} {count:>7}" + (f"  from {origin}" if origin else ""))
    print(f"Encoder: {stats['encoder']} (dim {stats['dim']}); index: {stats['index_type']} - {stats['index_reason']}")
    print(f"Built: {stats['built_at']}  Location: {stats['path']}")
    return 0
