"""docker-compose.yml (and its add-ons) checked the way `docker compose` would read them, with no Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator

from tests.deploy.stack import (
    CLI_SUBCOMMANDS,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    OVERLAY_FILES,
    ROOT,
    InterpolationError,
    argv,
    compose_spec,
    interpolate,
    interpolated_names,
    load_yaml,
    read_env_file,
)

ALL_COMPOSE_FILES = [COMPOSE_FILE, *OVERLAY_FILES]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    """.env.example as a user fills it in: every documented value, plus the token it asks for."""
    values, _ = read_env_file(ENV_EXAMPLE)
    return {**values, "TRAINBOARD_TOKEN": "s3cret-token-0123456789"}


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml after variable substitution with that .env."""
    return interpolate(compose, example_env)["services"]  # type: ignore[no-any-return]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def built_services(services: dict[str, Any]) -> dict[str, Any]:
    """The services that run our own images (the others run stock images like postgres:16)."""
    return {name: svc for name, svc in services.items() if "build" in svc}


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """{volume name: mount path} for the service's named volumes (not host paths)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
        if not source.startswith(("/", ".", "~", "$")):
            mounts[source] = target
    return mounts


@pytest.mark.parametrize("path", ALL_COMPOSE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_compose_file_follows_the_compose_specification(path: Path) -> None:
    schema = compose_spec()
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(load_yaml(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_build_contexts_and_dockerfiles_exist(services: dict[str, Any]) -> None:
    for name, svc in built_services(services).items():
        build = svc["build"] if isinstance(svc["build"], dict) else {"context": svc["build"]}
        context = ROOT / build.get("context", ".")
        assert context.is_dir(), f"service {name}: build context {context} is missing"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"service {name}: {dockerfile.relative_to(ROOT)} is missing"


def test_our_services_run_trainboard_subcommands(services: dict[str, Any]) -> None:
    commands = {name: argv(svc["command"]) for name, svc in built_services(services).items()}
    assert {"migrate", "api", "worker"} <= commands.keys()
    for name, command in commands.items():
        assert command[0] == "trainboard", f"service {name} runs {command}, not the trainboard CLI"
        assert command[1] in CLI_SUBCOMMANDS, f"service {name}: `trainboard {command[1]}` is no CLI subcommand"
    assert commands["migrate"][:2] == ["trainboard", "migrate"]
    assert commands["api"][:2] == ["trainboard", "api"]


def test_our_service_commands_parse_with_the_cli(services: dict[str, Any]) -> None:
    from trainboard.cli import build_parser  # a broken CLI fails here, it is not a reason to skip

    for name, svc in built_services(services).items():
        command = argv(svc["command"])
        try:
            build_parser().parse_args(command[1:])
        except SystemExit as exc:
            pytest.fail(f"service {name}: `{' '.join(command)}` is rejected by the CLI (exit {exc.code})")


def test_gpu_worker_reserves_nvidia_gpus_and_cpu_worker_none(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert argv(worker["command"])[1:] == ["worker", "--device", "cuda"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d["capabilities"] for d in devices), devices
    # The entrypoint gives each replica its own GPU through locks on this shared volume.
    assert named_volumes(worker).get("gpu-locks") == "/var/lib/trainboard-gpu-locks"

    cpu = services["worker-cpu"]
    assert argv(cpu["command"])[1:] == ["worker", "--device", "cpu"]
    assert "deploy" not in cpu, "the CPU worker must start on machines without a GPU"
    assert cpu.get("profiles") == ["cpu"]


@pytest.mark.parametrize("name", ["worker", "worker-cpu"])
def test_workers_scale(services: dict[str, Any], name: str) -> None:
    """`docker compose up --scale worker=N` fails on a fixed name, hostname or host port."""
    svc = services[name]
    for key in ("container_name", "hostname", "ports"):
        assert key not in svc, f"{name} has {key}: `--scale {name}=N` would clash"


def test_data_is_mounted_read_only_in_workers(services: dict[str, Any]) -> None:
    for name in ("worker", "worker-cpu"):
        data = [v for v in services[name]["volumes"] if isinstance(v, str) and ":/data" in v]
        assert data and data[0].endswith(":/data:ro"), f"{name} must see the datasets read-only at /data"


def test_stateful_services_keep_their_data_in_named_volumes(compose: dict[str, Any]) -> None:
    services, declared = compose["services"], set(compose.get("volumes") or {})
    assert "/var/lib/postgresql/data" in named_volumes(services["postgres"]).values()
    assert "/data" in named_volumes(services["redis"]).values()
    assert "/var/lib/trainboard" in named_volumes(services["api"]).values()
    used = {volume for svc in services.values() for volume in named_volumes(svc)}
    assert used <= declared, f"volumes used but not declared at the top level: {used - declared}"


def test_redis_persists_the_queue(services: dict[str, Any]) -> None:
    command = argv(services["redis"]["command"])
    assert command[0] == "redis-server"
    assert "--appendonly" in command and command[command.index("--appendonly") + 1] == "yes"


def test_databases_have_healthchecks(services: dict[str, Any]) -> None:
    assert "pg_isready" in " ".join(argv(services["postgres"]["healthcheck"]["test"]))
    assert argv(services["redis"]["healthcheck"]["test"])[1:] == ["redis-cli", "ping"]


def test_api_waits_for_its_dependencies_and_is_health_checked(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    probe = " ".join(argv(api["healthcheck"]["test"]))
    assert "/api/health" in probe and "urllib" in probe
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"].get("restart") == "no", "a one-shot migration must not be restarted"


def test_dependencies_name_existing_services(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for dependency in svc.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert not services[dependency].get("profiles"), f"{name} depends on {dependency}, off by default"


def test_api_port_healthcheck_and_worker_url_agree(resolved: dict[str, Any], example_env: dict[str, str]) -> None:
    api = resolved["api"]
    command = argv(api["command"])
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    (published,) = api["ports"]
    assert published == f"{example_env['TRAINBOARD_BIND']}:{example_env['TRAINBOARD_PORT']}:{port}"
    assert f"127.0.0.1:{port}/api/health" in " ".join(argv(api["healthcheck"]["test"]))
    for name in ("worker", "worker-cpu"):
        url = urlsplit(env_of(resolved[name])["TRAINBOARD_API_URL"])
        assert (url.hostname, str(url.port)) == ("api", port), f"{name} looks for the API at {url.geturl()}"


def test_api_is_loopback_only_unless_configured(compose: dict[str, Any]) -> None:
    resolved = interpolate(compose, {"TRAINBOARD_TOKEN": "t"})["services"]
    assert resolved["api"]["ports"] == ["127.0.0.1:8000:8000"]
    assert resolved["flower"]["ports"][0].startswith("127.0.0.1:"), "Flower has no login"
    for name in ("postgres", "redis"):
        assert "ports" not in resolved[name], f"{name} must not be published by default"


def test_services_reach_postgres_and_redis_with_matching_settings(resolved: dict[str, Any]) -> None:
    pg = env_of(resolved["postgres"])
    for name in ("migrate", "api"):
        url = urlsplit(env_of(resolved[name])["DATABASE_URL"])
        assert url.scheme == "postgresql+psycopg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert (url.username, url.password, url.path) == (
            pg["POSTGRES_USER"],
            pg["POSTGRES_PASSWORD"],
            "/" + pg["POSTGRES_DB"],
        ), f"{name} would log in to Postgres with other credentials than the server was created with"
    for name in ("api", "worker", "worker-cpu"):
        url = urlsplit(env_of(resolved[name])["REDIS_URL"])
        assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379), name
    assert "--broker" in argv(resolved["flower"]["command"])
    assert env_of(resolved["api"])["REDIS_URL"] in argv(resolved["flower"]["command"])


def test_api_answers_to_the_name_workers_use(resolved: dict[str, Any]) -> None:
    allowed = env_of(resolved["api"])["TRAINBOARD_ALLOWED_HOSTS"].split(",")
    for name in ("worker", "worker-cpu"):
        assert urlsplit(env_of(resolved[name])["TRAINBOARD_API_URL"]).hostname in allowed, name


def test_api_and_workers_share_the_token(resolved: dict[str, Any]) -> None:
    for name in ("api", "worker", "worker-cpu"):
        assert env_of(resolved[name])["TRAINBOARD_TOKEN"] == "s3cret-token-0123456789", name


def test_compose_refuses_to_start_without_a_token(compose: dict[str, Any]) -> None:
    values, _ = read_env_file(ENV_EXAMPLE)
    assert values.get("TRAINBOARD_TOKEN") == "", ".env.example must not ship a usable token"
    with pytest.raises(InterpolationError, match="TRAINBOARD_TOKEN"):
        interpolate(compose, values)


@pytest.mark.parametrize("path", ALL_COMPOSE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_env_example_names_every_variable_the_compose_file_uses(path: Path) -> None:
    values, commented = read_env_file(ENV_EXAMPLE)
    used = interpolated_names(path.read_text())
    assert used, f"{path.name} interpolates nothing?"
    missing = sorted(set(used) - values.keys() - commented)
    assert not missing, f".env.example does not mention {missing}, which {path.name} reads"
    if path == COMPOSE_FILE:
        # What the default stack needs must be a live line, not a commented-out hint.
        required = sorted(name for name, needed in used.items() if needed and name not in values)
        assert not required, f"{required} are required by {path.name} but commented out in .env.example"


def test_env_example_mentions_only_variables_that_do_something() -> None:
    values, commented = read_env_file(ENV_EXAMPLE)
    used = set()
    for path in ALL_COMPOSE_FILES:
        used |= set(interpolated_names(path.read_text()))
    compose_own = {"COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"}
    stale = sorted((values.keys() | commented) - used - compose_own)
    assert not stale, f".env.example documents {stale}, which no compose file reads"


def test_multi_host_addon_publishes_redis_on_a_chosen_address() -> None:
    (overlay,) = [p for p in OVERLAY_FILES if p.name == "multi-host.compose.yml"]
    services = load_yaml(overlay)["services"]
    with pytest.raises(InterpolationError, match="TRAINBOARD_REDIS_BIND"):
        interpolate(services, {})
    resolved = interpolate(services, {"TRAINBOARD_REDIS_BIND": "10.0.0.5"})
    assert resolved == {"redis": {"ports": ["10.0.0.5:6379:6379"]}}
