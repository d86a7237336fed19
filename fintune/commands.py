"""Core subcommands: ``serve``, ``chat`` and ``models``."""

from __future__ import annotations

import json
import sys

from fintune.engine import GenerationSettings  # its module imports no torch


def register(sub) -> None:
    serve = sub.add_parser("serve", help="Run the web app (http://127.0.0.1:7860 by default).")
    serve.add_argument("--host", default="127.0.0.1", help="Interface to bind. Anything but 127.0.0.1/localhost exposes the app and requires --auth.")
    serve.add_argument("--port", type=int, default=7860, help="Port to listen on.")
    serve.add_argument("--auth", default=None, help="USER:PASSWORD for a login page (or set FINTUNE_AUTH).")
    serve.add_argument("--base-model", default=None, help="Built-in alias, Hugging Face id or local folder (default: smollm2-135m-instruct).")
    serve.add_argument("--max-upload-mb", type=float, default=100, help="Largest file a user may upload.")
    serve.set_defaults(func=_serve)

    chat = sub.add_parser("chat", help="Ask the model one question from the terminal (streams the answer).")
    chat.add_argument("question", help="The question; '-' reads it from standard input.")
    chat.add_argument("--base-model", default=None, help="Built-in alias, Hugging Face id or local folder.")
    chat.add_argument("--adapter", default=None, help="A run id or a PEFT adapter folder to chat with instead of the base model.")
    chat.add_argument("--glossary", action="store_true", help="Answer from the glossary: quote the matching definition with its source, or say it has no entry.")
    chat.add_argument("--system", default=None, help="System prompt.")
    chat.add_argument("--temperature", type=float, default=GenerationSettings.temperature)
    chat.add_argument("--top-p", type=float, default=GenerationSettings.top_p)
    chat.add_argument("--max-new-tokens", type=int, default=GenerationSettings.max_new_tokens)
    chat.set_defaults(func=_chat)

    models = sub.add_parser("models", help="Provision and inspect base models.")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION")
    pull = msub.add_parser("pull", help="Download and convert a built-in model into the cache.")
    pull.add_argument("name", nargs="?", default=None, help="Built-in alias (default: smollm2-135m-instruct).")
    pull.add_argument("--force", action="store_true", help="Provision again even if a copy is cached.")
    pull.set_defaults(func=_models_pull)
    lst = msub.add_parser("list", help="List built-in models and whether they are cached.")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_models_list)
    ver = msub.add_parser("verify", help="Check a cached model's files against their checksums.")
    ver.add_argument("name", nargs="?", default=None)
    ver.set_defaults(func=_models_verify)
    models.set_defaults(func=lambda args: models.print_help() or 2, models_command=None)


def _serve(args) -> int:
    from ui.app import ServeConfig, serve

    serve(ServeConfig(host=args.host, port=args.port, auth=args.auth, base_model=args.base_model, max_upload_mb=args.max_upload_mb))
    return 0


def resolve_adapter(value: str | None) -> str | None:
    """A run id/name or an adapter folder -> the adapter folder path."""
    if not value:
        return None
    from pathlib import Path

    if Path(value).expanduser().is_dir():
        return str(Path(value).expanduser())
    from trainer.registry import find_run

    run = find_run(value)
    if run.adapter_dir is None:
        from fintune.errors import ModelError

        raise ModelError(f"Run '{value}' has no adapter yet (status: {run.status}). Wait for it to finish, or pick another run with `fintune runs`.")
    return str(run.adapter_dir)


class _LazyEngine:
    """Loads the model only when an answer needs it, so a glossary definition prints before the model loads."""

    def __init__(self, base_model: str | None) -> None:
        self.base_model = base_model

    def stream(self, *args, **kwargs):
        from fintune.engine import ChatEngine

        return ChatEngine.shared(self.base_model).stream(*args, **kwargs)


def _chat(args) -> int:
    from fintune.engine import GenerationSettings

    question = sys.stdin.read().strip() if args.question == "-" else args.question
    settings = GenerationSettings(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens)
    engine, adapter = _LazyEngine(args.base_model), resolve_adapter(args.adapter)
    from trainer.predict import classifier_run, classify, label_markdown

    classifier = classifier_run(adapter)
    if classifier is not None:  # a classification run answers with a label and its probability
        from fintune.engine import ChatEngine

        print(label_markdown(classify(ChatEngine.shared(args.base_model), classifier, question), classifier, f"Run {classifier.name}"))
        return 0
    if args.glossary:
        from rag import Glossary
        from rag.answer import answer_stream

        items = answer_stream(question, Glossary.open(), engine, settings=settings, system=args.system, adapter=adapter)
    else:
        messages = [{"role": "system", "content": args.system}] if args.system else []
        items = engine.stream(messages + [{"role": "user", "content": question}], settings, adapter=adapter)
    answer = None
    for item in items:
        if isinstance(item, str):
            sys.stdout.write(item)
            sys.stdout.flush()
        else:
            answer = item
    sys.stdout.write("\n")
    if answer is not None:  # only the glossary path ends with a GroundedAnswer
        print(answer.sources_markdown())
    return 0


def _models_pull(args) -> int:
    from fintune.models import pull, requested_name

    pull(requested_name(args.name), force=args.force)
    return 0


def _models_list(args) -> int:
    from fintune.models import list_cached

    rows = list_cached()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            state = "cached" if row["provisioned"] else "not pulled"
            print(f"{row['name']:<26} {state:<11} {row['source']:<22} {row['path']}")
    return 0


def _models_verify(args) -> int:
    from fintune.models import requested_name, verify

    folder = verify(requested_name(args.name), full=True)
    print(f"OK: {folder} matches its manifest checksums")
    return 0
