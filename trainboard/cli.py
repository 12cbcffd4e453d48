"""The `trainboard` command: start the stack, train locally, or talk to a running API.

This is the one module that imports everything: the API (``backend``) for ``api``/``migrate``/``up``, the worker
(``worker``) for ``worker``/``train``, and the client for the rest. Everything else keeps to a tree — ``backend`` and
``worker`` each import only ``trainboard``'s shared modules, never each other, and no imports go round in a circle
(tests/trainboard/test_layering.py) — so those imports stay inside the commands that need them: ``trainboard ls``
loads neither FastAPI nor torch.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trainboard import lifecycle
from trainboard.cli_output import RunWatch, runs_table, terminal_width
from trainboard.client import ApiError, Client
from trainboard.log_setup import configure_logging
from trainboard.settings import Settings, env_name
from trainboard.spec import load_spec_file

VERBOSE_HELP = "log more: -v shows what trainboard and its libraries do (HTTP requests too), -vv debugs"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainboard", description="Launch and watch PyTorch training runs.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the API and one worker (embedded default: SQLite, no Redis)")
    up.add_argument("--port", type=int, help="API port (default $TRAINBOARD_PORT or 8000)")
    up.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    up.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="show the API's and workers' output here instead of in $TRAINBOARD_HOME/logs/up.log "
        "(also TRAINBOARD_VERBOSE=1)",
    )

    api = sub.add_parser("api", help="serve the REST API and the dashboard")
    api.add_argument("--host", help="bind address (default 127.0.0.1; anything else needs TRAINBOARD_TOKEN)")
    api.add_argument("--port", type=int, help="port (default $TRAINBOARD_PORT or 8000)")

    worker = sub.add_parser("worker", help="start a Celery worker that trains runs, one at a time (one a GPU)")
    worker.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    worker.add_argument("--name", help="worker name (default <device>-<pid>@<host>)")
    worker.add_argument(
        "--gpus",
        metavar="0,1,…",
        help="the GPUs it schedules (torch's indices, or all; default: all on a cuda worker): one run per "
        "GPU at once, a command run asking for `gpus: 2` on two of them, never two runs on one GPU",
    )
    worker.add_argument(
        "--code",
        type=Path,
        metavar="DIR",
        help="also take command runs (users' own commands) and run them in DIR, e.g. a checkout of their project: "
        "whoever may launch a run can then run code on this worker",
    )

    sub.add_parser("migrate", help="apply the database migrations")

    train = sub.add_parser("train", help="train a run spec locally, no server")
    train.add_argument("spec", type=Path, help="run spec, YAML or JSON")
    train.add_argument("--data-dir", type=Path, help="datasets (default $TRAINBOARD_DATA_DIR)")
    train.add_argument("--out", type=Path, help="where checkpoints and artifacts go (default ./trainboard-run)")

    submit = sub.add_parser("submit", help="send a run spec to the API")
    submit.add_argument("spec", type=Path)
    submit.add_argument("--watch", action="store_true", help="follow the run until it ends")

    sweep = sub.add_parser("sweep", help="send a sweep (base spec + grid) to the API")
    sweep.add_argument("spec", type=Path)

    ls = sub.add_parser("ls", help="list runs")
    ls.add_argument("query", nargs="?", help="free text or a query: 'tag:fig5 and config.optimizer.lr >= 0.01'")
    ls.add_argument("--status")
    ls.add_argument("--sort", help="a column or a config or summary key (summary.best_valid_acc); highest first")
    ls.add_argument("--asc", action="store_true", help="sort lowest first")
    ls.add_argument("--limit", type=int, default=20)

    watch = sub.add_parser("watch", help="follow a run's live metrics until it ends")
    watch.add_argument("run", type=int)
    for name, command in sub.choices.items():  # `trainboard ls -v` as well as `trainboard -v ls`
        if name != "up":  # up has its own -v: the children's output on the terminal
            command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(command=args.command, verbose=args.verbose)
    try:
        handler = COMMANDS[args.command]
        return handler(args)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"error: {_invalid(exc.title, error['loc'], error['msg'])}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _invalid(model: str, loc: tuple[int | str, ...], msg: str) -> str:
    """One validation error, named as the user set it: a spec's field (``optimizer.lr``), a setting's environment
    variable (``TRAINBOARD_PORT``), or none for a rule over several settings."""
    if model == Settings.__name__:
        msg = msg.removeprefix("Value error, ")  # our own validators' messages are sentences of their own
        if not loc:  # a rule over several settings says which itself
            return msg
        field = str(loc[0])  # a field's name, or the alias it was set by (DATABASE_URL)
        return f"{env_name(field) if field in Settings.model_fields else field}: {msg}"
    return f"{'.'.join(str(p) for p in loc) or 'spec'}: {msg}"


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def cmd_migrate(_args: argparse.Namespace) -> int:
    from backend.db import migrate

    settings = _settings()
    settings.ensure_home()
    migrate(settings.sqlalchemy_url)
    _declare_queues(settings)
    print(f"database at head: {settings.sqlalchemy_url.split('@')[-1]}")
    return 0


def _declare_queues(settings: Settings) -> None:
    from trainboard.queue import declare_queues, make_celery

    declare_queues(make_celery(settings))


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.db import migrate
    from backend.main import create_app

    settings = _settings(host=args.host, port=args.port)
    settings.ensure_home()
    migrate(settings.sqlalchemy_url)
    lifecycle.watch_parent()
    # Open live streams must not hold a stopping API for ever: browsers reconnect to the next one by themselves.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from celery.signals import worker_ready

    import worker.tasks  # noqa: F401 - registers the task with the app
    from trainboard.queue import declare_queues, make_celery, worker_queues
    from worker import gpus, presence
    from worker.gpus import GpuError

    settings = _settings()
    device = args.device
    if device == "auto":
        device = "cuda" if _cuda_available() else "cpu"
    elif device == "cuda" and not _cuda_available():
        print("error: --device cuda, but torch sees no CUDA GPU on this machine", file=sys.stderr)
        return 2
    if args.code is not None and not args.code.is_dir():
        print(f"error: --code {args.code}: no such folder (the code command runs run in)", file=sys.stderr)
        return 2
    if args.code is not None:
        os.environ["TRAINBOARD_CODE_DIR"] = str(args.code.resolve())  # the task's Settings read it
    else:
        os.environ.pop("TRAINBOARD_CODE_DIR", None)
    try:
        held = gpus.scheduled(args.gpus, device=device, seen=_cuda_device_count())
    except GpuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gpus.configure(held, visible=os.environ.get("CUDA_VISIBLE_DEVICES"))
    queues = worker_queues(device, commands=args.code is not None, gpus=len(held))
    name = args.name or f"{device}-{os.getpid()}@{socket.gethostname()}"
    app = make_celery(settings)
    declare_queues(app, also=queues)
    # One run at a time in the worker's own thread; with several GPUs, a thread per GPU (worker/gpus.py).
    pool = ["--pool=threads", f"--concurrency={len(held)}"] if len(held) > 1 else ["--pool=solo", "--concurrency=1"]
    argv = [
        "worker",
        *pool,
        f"--queues={','.join(queues)}",
        f"--hostname={name}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    # The embedded broker has no fan-out exchange for heartbeats and task events; with Redis, flower sees tasks.
    argv.append("--without-heartbeat" if settings.redis_url is None else "--task-events")
    lifecycle.watch_parent()
    worker_ready.connect(lambda **_: lifecycle.interrupt_training_on_stop(), weak=False)
    presence.install(settings, name=name, queues=queues)  # the API's Workers page: registers once ready
    app.worker_main(argv)
    return 0


def _cuda_device_count() -> int:
    if not _cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cmd_up(args: argparse.Namespace) -> int:
    from trainboard import up

    stop = up.StopRequest()  # from here on, Ctrl-C stops cleanly, even during the migrations
    settings = _settings(port=args.port)
    settings.ensure_home()
    if up.port_in_use(settings.host, settings.port):
        print(
            f"error: port {settings.port} is already in use (another trainboard up?): stop it, or choose another "
            "port with --port or TRAINBOARD_PORT",
            file=sys.stderr,
        )
        return 1
    verbose = args.verbose or os.environ.get("TRAINBOARD_VERBOSE", "").strip() not in {"", "0"}
    log = None if verbose else up.start_log(settings)
    up.introduce(settings, workers=args.workers, log=log)
    from backend.db import migrate  # only now: importing Alembic logs, and its lines belong in the log file

    migrate(settings.sqlalchemy_url)
    _declare_queues(settings)
    if stop.requested:
        print("trainboard stopped")
        return 0
    return up.supervise(settings, workers=args.workers, log=log, stop=stop)


def cmd_train(args: argparse.Namespace) -> int:
    from trainboard.progress_bar import ProgressBar
    from worker.training.run import train

    spec = load_spec_file(args.spec)
    settings = _settings()
    data_dir = args.data_dir or settings.resolved_data_dir
    out = args.out or Path("trainboard-run")
    summary = train(spec, data_dir=data_dir, cache_dir=settings.home / "cache", run_dir=out, callback=ProgressBar(out))
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    spec = load_spec_file(args.spec)
    with Client() as client:
        run = client.create_run(spec.model_dump(mode="json"))
        print(f"run {run['id']} {run['status']}: {client.url}/#/runs/{run['id']}")
        if args.watch:
            return _watch(client, run["id"])
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    data = yaml.safe_load(args.spec.read_text())
    with Client() as client:
        sweep = client.create_sweep(data)
        print(f"sweep {sweep['id']}: {len(sweep['runs'])} runs {sweep['runs']}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    if args.query:
        params["q"] = args.query
    if args.sort:
        params.update(sort=args.sort, order="asc" if args.asc else "desc")
    with Client() as client:
        runs = client.list_runs(**params)
    print("\n".join(runs_table(runs, width=terminal_width())))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    with Client() as client:
        return _watch(client, args.run)


def _watch(client: Client, run_id: int) -> int:
    status = "queued"
    view = RunWatch(run_id, external=bool(client.get_run(run_id)["external"]), write=_print_now)
    for _, kind, data in client.events(run_id):
        if kind == "status":
            status = data["status"]
            view.status(data)
        elif kind == "metrics":
            view.metrics(data)
    view.flush()
    return 0 if status == "succeeded" else 1


def _print_now(line: str) -> None:
    print(line, flush=True)  # a pipe (`watch 3 | grep acc`) sees each line as it comes


COMMANDS = {
    "up": cmd_up,
    "api": cmd_api,
    "worker": cmd_worker,
    "migrate": cmd_migrate,
    "train": cmd_train,
    "submit": cmd_submit,
    "sweep": cmd_sweep,
    "ls": cmd_ls,
    "watch": cmd_watch,
}

if __name__ == "__main__":
    sys.exit(main())
