"""``fintune train``, ``fintune runs``, ``fintune stop/resume``, ``fintune export`` (and ``eval`` from trainer.evaluate)."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from fintune.gguf_export import TENSOR_TYPES
from trainer.accelerate_launch import LaunchSpec
from trainer.table import UploadLimits
from trainer.registry import TERMINAL, RunStatus


def register(sub) -> None:
    p = sub.add_parser("train", help="Fine-tune a LoRA adapter on a CSV/JSON/JSONL/Parquet file (background job, progress bar).")
    p.add_argument("data", help="Training file: question/answer, prompt/completion, instruction/input/output, messages, or text/label columns.")
    p.add_argument("--plan", help="Plan JSON (from `fintune advise --json`); defaults otherwise.")
    p.add_argument("--base-model", help="Built-in alias, Hugging Face id or local folder (overrides the plan).")
    p.add_argument("--run-name", help="Name shown in the run list (default: the file name).")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="Override a plan field, e.g. --set max_steps=20 (repeatable).")
    p.add_argument("--prompt-column", help="Column with the user text (overrides detection).")
    p.add_argument("--completion-column", help="Column with the answer/label (overrides detection).")
    p.add_argument("--label-map", help="JSON label map for numeric labels, e.g. '{\"0\": \"bearish\", \"1\": \"bullish\"}'.")
    p.add_argument("--max-file-mb", type=float, default=None, help=f"Largest accepted file in MB (default {UploadLimits.max_file_mb:g}).")
    p.add_argument("--max-rows", type=int, default=None, help=f"Most rows accepted (default {UploadLimits.max_rows:,}).")
    p.add_argument("--launcher", choices=("local", "accelerate"), default="local", help="'accelerate' = multi-GPU DDP via `accelerate launch`.")
    p.add_argument("--num-processes", type=int, default=LaunchSpec.num_processes, help="With --launcher accelerate: processes (GPUs).")
    p.add_argument("--accelerate-config", help="With --launcher accelerate: your own accelerate YAML (DeepSpeed, FSDP).")
    p.add_argument("--dry-run", action="store_true", help="Validate and print the report (and the launch command) without training.")
    p.add_argument("--detach", action="store_true", help="Queue the run and return; follow it with `fintune runs`.")
    p.add_argument("--no-eval", action="store_true", help="Skip the automatic held-out evaluation after training (run `fintune eval RUN` later).")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", help="List fine-tune runs (newest first).")
    p.add_argument("--json", action="store_true", help="Machine-readable output.")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("stop", help="Stop a run at its next step (a checkpoint is saved).")
    p.add_argument("run", help="Run id, id prefix or name.")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("resume", help="Resume a stopped or failed run from its last checkpoint.")
    p.add_argument("run", help="Run id, id prefix or name.")
    p.add_argument("--detach", action="store_true", help="Queue it and return.")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("export", help="Export a run: its adapter, merged weights (--merge), a GGUF for llama.cpp/Ollama (--gguf) or a vLLM setup (--vllm).")
    p.add_argument("run", help="Run id, id prefix or name.")
    p.add_argument("--out", required=True, help="Output folder (new or empty).")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--merge", action="store_true", help="Merge the LoRA weights into the base model (safetensors).")
    kind.add_argument("--gguf", action="store_true", help="Merged model as one GGUF file plus an Ollama Modelfile.")
    kind.add_argument("--vllm", action="store_true", help="The adapter plus serve_vllm.sh / vllm_config.yaml for vLLM's OpenAI server.")
    p.add_argument("--gguf-type", default="f16", choices=TENSOR_TYPES, help="GGUF tensor type (with --gguf).")
    p.add_argument("--vllm-base", default=None, help="Base model for vLLM (default: this machine's base-model folder).")
    p.set_defaults(func=cmd_export)

    from trainer.evaluate import register_cli

    register_cli(sub)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_plan(args):
    from trainer.errors import TrainerError
    from trainer.plan import TrainPlan

    plan = TrainPlan.load(args.plan) if args.plan else TrainPlan()
    data = plan.to_dict()
    if args.base_model:
        data["base_model"] = args.base_model
    for item in args.set:
        if "=" not in item:
            raise TrainerError(f"--set {item!r} must look like FIELD=VALUE, e.g. --set max_steps=20.")
        key, value = item.split("=", 1)
        data[key.strip()] = _parse_value(value.strip())
    return TrainPlan.from_dict(data)


def spec_from_args(args, path: str):
    """The column mapping from the flags, or None to detect it (``DataSpec.from_user_input`` decides)."""
    from trainer.data import DataSpec, read_table

    if not (args.prompt_column or args.completion_column or args.label_map):
        return None
    return DataSpec.from_user_input(read_table(path, _limits(args)).column_names, "auto", args.prompt_column,
                                    args.completion_column, args.label_map)


def _limits(args):
    kw = {}
    if getattr(args, "max_file_mb", None):
        kw["max_file_mb"] = args.max_file_mb
    if getattr(args, "max_rows", None):
        kw["max_rows"] = args.max_rows
    return UploadLimits(**kw)


def _print_report(report) -> None:
    print(report.summary())
    rows = report.issue_rows(limit=15)
    for severity, where, kind, message in rows:
        print(f"  {severity:7} {where:>10}  {kind:12} {message}")
    if len(report.issues) > len(rows):
        print(f"  ... and {len(report.issues) - len(rows)} more")


def follow(run_id: str, manager) -> int:
    """Terminal progress bar until the run ends. Ctrl-C asks for a stop; a second Ctrl-C detaches."""
    from tqdm import tqdm

    from trainer import registry
    from trainer.events import fold, read_events

    offset, progress, last_state = 0, None, None
    bar = tqdm(total=0, unit="step", dynamic_ncols=True, leave=True)
    interrupted = {"n": 0}

    def on_sigint(signum, frame):
        interrupted["n"] += 1
        if interrupted["n"] == 1:
            print("\nStopping at the next step (a checkpoint is saved). Ctrl-C again to leave it running in the background.", file=sys.stderr)
            try:
                manager.stop(run_id)
            except Exception as exc:  # noqa: BLE001
                print(f"error: {exc}", file=sys.stderr)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        while True:
            manager.pump()
            events, offset = read_events(registry.run_dir(run_id), offset)
            progress = fold(events, progress)
            if progress.total_steps and bar.total != progress.total_steps:
                bar.total = progress.total_steps
            state = (progress.phase, progress.step, len(progress.loss), len(progress.eval_loss))
            run = registry.get_run(run_id)
            if run.status in TERMINAL:
                break
            if state == last_state:
                time.sleep(0.5)
                continue
            last_state = state
            bar.n = progress.step
            last_loss = progress.loss[-1][1] if progress.loss else None
            bar.set_description(progress.phase)
            bar.set_postfix_str((f"loss {last_loss:.4f}" if last_loss is not None else "")
                                + (f" eval {progress.eval_loss[-1][1]:.4f}" if progress.eval_loss else ""))
            bar.refresh()
            time.sleep(0.5)
    except KeyboardInterrupt:
        bar.close()
        print(f"Left running in the background: {run_id}. Follow it with `fintune runs`.")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    run = registry.get_run(run_id)
    if run.status == RunStatus.FAILED:
        print(f"error: {run.error}", file=sys.stderr)
        tail = registry.log_tail(run.run_dir, 10)
        if tail:
            print("--- end of log.txt ---\n" + tail, file=sys.stderr)
        return 1
    print(f"Run {run.id} {run.status}." + (f" Adapter: {run.adapter_dir}" if run.adapter_dir else ""))
    if run.status == RunStatus.STOPPED:
        print(f"Resume with `fintune resume {run.id}`.")
    return 0


def cmd_train(args) -> int:
    from trainer import accelerate_launch, prepare
    from trainer.manager import JobManager

    plan = build_plan(args)
    spec = spec_from_args(args, args.data)
    limits = _limits(args)
    loaded, report = prepare.inspect_upload(args.data, spec, plan, limits)
    _print_report(report)
    launch = None
    if args.launcher == "accelerate":
        launch = LaunchSpec(num_processes=args.num_processes, config_file=args.accelerate_config)
    if args.dry_run:
        if launch:
            print("would run: accelerate launch --config_file <run>/accelerate_config.yaml -m trainer.job <run>")
            print(accelerate_launch.config_yaml(launch))
        return 0 if report.ok else 1
    extra = {"launcher": args.launcher}
    if args.no_eval:
        extra["evaluate"] = False
    if launch:
        extra["launch"] = accelerate_launch.spec_dict(launch)
    folder = prepare.prepare_run(args.data, plan, spec or loaded.spec, args.run_name, limits, extra=extra)
    if launch:
        accelerate_launch.write_config(folder, launch)
    manager = JobManager()
    run = manager.submit(folder)
    print(f"Run {run.id}: {run.status}" + (" (waiting for the running job)" if run.status == RunStatus.QUEUED else ""))
    if args.detach:
        return 0
    return follow(run.id, manager)


def cmd_runs(args) -> int:
    from trainer import registry
    from trainer.events import summarize_runs
    from trainer.manager import JobManager

    JobManager()  # marks dead jobs failed, starts queued ones
    runs = registry.list_runs()
    if args.json:
        print(json.dumps([{"id": r.id, "name": r.name, "status": r.status, "task": r.task, "labels": r.labels,
                           "base_model": r.base_model, "created_at": r.created_at,
                           "adapter_dir": str(r.adapter_dir) if r.adapter_dir else None} for r in runs], indent=2))
        return 0
    if not runs:
        print("No runs yet. Start one with `fintune train DATA`.")
        return 0
    print(f"{'ID':40} {'STATUS':10} {'STEP':>9} {'LOSS':>8} {'TASK':14} NAME")
    for r in summarize_runs(runs):
        loss = f"{r.loss:.4f}" if r.loss is not None else "-"
        print(f"{r.id:40} {r.status:10} {r.step:>9} {loss:>8} {r.task:14} {r.name}")
        if r.status == RunStatus.FAILED and r.error:
            print(f"{'':40} error: {r.error}")
    return 0


def cmd_stop(args) -> int:
    from trainer import registry
    from trainer.manager import JobManager

    run = JobManager().stop(registry.find_run(args.run).id)
    print(f"Run {run.id}: {run.status}")
    return 0


def cmd_resume(args) -> int:
    from trainer import registry
    from trainer.manager import JobManager

    manager = JobManager()
    run = manager.resume(registry.find_run(args.run).id)
    print(f"Run {run.id}: {run.status}")
    return 0 if args.detach else follow(run.id, manager)


def cmd_export(args) -> int:
    from trainer import export

    if args.gguf:
        gguf = export.export_gguf(args.run, args.out, tensor_type=args.gguf_type)
        print(f"Exported {gguf.resolve()} and {gguf.parent.resolve() / 'Modelfile'}\n"
              f"  llama.cpp: llama-cli -m {gguf.resolve()}\n  Ollama:    cd {gguf.parent.resolve()} && ollama create {gguf.stem} -f Modelfile")
        return 0
    if args.vllm:
        script = export.export_vllm(args.run, args.out, base=args.vllm_base)
        print(f"Wrote {script.resolve()} (and vllm_config.yaml, request_example.sh):\n  {script.read_text().splitlines()[-1]}")
        return 0
    out = export.export_run(args.run, args.out, merge=args.merge)
    print(f"Exported {'merged weights' if args.merge else 'adapter'} to {Path(out).resolve()}")
    return 0
