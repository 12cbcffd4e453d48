"""docker/*.Dockerfile and .dockerignore, read the way `docker compose build` reads them, without Docker."""

from __future__ import annotations

import glob
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.stack import (
    CLI_SUBCOMMANDS,
    ROOT,
    copy_sources,
    dockerfile_instructions,
    dockerignored,
    exec_form,
)

API = ROOT / "docker" / "api.Dockerfile"
WORKER = ROOT / "docker" / "worker.Dockerfile"
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
KEYWORDS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
}  # fmt: skip


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        for sep in "[<>=!~; ":
            line = line.split(sep, 1)[0]
        names.add(line.strip().lower())
    return names - {""}


def requirements_installed_by(dockerfile: Path) -> list[str]:
    """Run the Dockerfile's own `python -c` step that writes the image's requirements list, here."""
    for instruction in dockerfile_instructions(dockerfile):
        if instruction.keyword != "RUN" or "tomllib" not in instruction.args:
            continue
        first_step = shlex.split(instruction.args.split("&&")[0])
        code = first_step[first_step.index("-c") + 1]
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
        )
        return [line for line in result.stdout.splitlines() if line.strip()]
    pytest.fail(f"{dockerfile.name} has no RUN step that reads its requirements from pyproject.toml")


@pytest.fixture(params=DOCKERFILES, ids=lambda p: p.name)
def dockerfile(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def test_both_images_exist() -> None:
    assert {p.name for p in DOCKERFILES} >= {"api.Dockerfile", "worker.Dockerfile"}


def test_dockerfile_parses(dockerfile: Path) -> None:
    instructions = dockerfile_instructions(dockerfile)
    unknown = [f"line {i.line}: {i.keyword}" for i in instructions if i.keyword not in KEYWORDS]
    assert not unknown, f"{dockerfile.name} has unknown instructions: {unknown}"
    first = next(i for i in instructions if i.keyword != "ARG")
    assert first.keyword == "FROM", f"{dockerfile.name} must start with FROM, not {first.keyword}"
    assert not any(i.args == "" for i in instructions), f"{dockerfile.name} has an instruction with no arguments"
    users = [i.args for i in instructions if i.keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}, f"{dockerfile.name} must run as a non-root user"


def test_every_copy_source_is_in_the_build_context(dockerfile: Path) -> None:
    sources = [
        (i, s) for i in dockerfile_instructions(dockerfile) if i.keyword in {"COPY", "ADD"} for s in copy_sources(i)
    ]
    assert sources, f"{dockerfile.name} copies nothing from the repository"
    for instruction, source in sources:
        matches = glob.glob(source, root_dir=ROOT) if any(c in source for c in "*?[") else [source]
        assert matches and all((ROOT / m).exists() for m in matches), (
            f"{dockerfile.name} line {instruction.line}: COPY source {source} is not in the repository"
        )
        if source not in {".", "./"}:
            assert not dockerignored(source), f"{dockerfile.name}: {source} is dropped by .dockerignore"


def test_image_runs_a_trainboard_subcommand(dockerfile: Path) -> None:
    (cmd,) = [i for i in dockerfile_instructions(dockerfile) if i.keyword == "CMD"]
    command = exec_form(cmd.args)
    assert command, f"{dockerfile.name}: use the exec form of CMD so signals reach the process"
    assert command[0] == "trainboard" and command[1] in CLI_SUBCOMMANDS, command


def test_api_image_never_installs_torch() -> None:
    text = API.read_text()
    assert "[worker]" not in text and "optional-dependencies" not in text, "the API image installs the worker extra"
    installed = requirement_names(requirements_installed_by(API))
    assert not installed & {"torch", "torchvision"}, (
        f"the API image would install {installed & {'torch', 'torchvision'}}"
    )
    assert requirement_names(pyproject()["project"]["dependencies"]) == installed
    assert any("install --no-deps -e ." in i.args for i in dockerfile_instructions(API) if i.keyword == "RUN")


def test_worker_image_installs_the_worker_extra() -> None:
    installed = requirements_installed_by(WORKER)
    project = pyproject()["project"]
    assert set(installed) == set(project["dependencies"]) | set(project["optional-dependencies"]["worker"])
    assert {"torch", "torchvision"} <= requirement_names(installed)


def test_worker_image_claims_a_gpu_before_running_its_command() -> None:
    instructions = dockerfile_instructions(WORKER)
    (entrypoint,) = [exec_form(i.args) for i in instructions if i.keyword == "ENTRYPOINT"]
    assert entrypoint == ["/bin/sh", "/app/docker/worker-entrypoint.sh"]
    assert (ROOT / "docker" / "worker-entrypoint.sh").is_file()
    assert not dockerignored("docker/worker-entrypoint.sh")
    env = " ".join(i.args for i in instructions if i.keyword == "ENV")
    for setting in (
        "TRAINBOARD_DATA_DIR=/data",
        "TRAINBOARD_HOME=/var/lib/trainboard",
        "NVIDIA_DRIVER_CAPABILITIES=",
    ):
        assert setting in env, f"the worker image does not set {setting}"


def test_api_image_serves_the_dashboard() -> None:
    """backend/main.py serves frontend/ from beside the packages: the image must carry it, at /app."""
    instructions = dockerfile_instructions(API)
    assert "/app" in [i.args for i in instructions if i.keyword == "WORKDIR"]
    assert any(i.keyword == "COPY" and copy_sources(i) == ["."] for i in instructions)
    assert "8000" in [i.args for i in instructions if i.keyword == "EXPOSE"]
    for needed in ("frontend", "backend", "worker", "trainboard", "pyproject.toml"):
        assert not dockerignored(needed), f".dockerignore drops {needed}, which the image needs"


def test_every_source_file_of_the_app_is_in_the_build_context() -> None:
    sources = [
        path.relative_to(ROOT).as_posix()
        for package in ("backend", "worker", "trainboard", "frontend")
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert sources
    dropped = [path for path in sources if dockerignored(path)]
    assert not dropped, f".dockerignore keeps these out of the images: {dropped}"


def test_package_metadata_files_are_in_the_build_context() -> None:
    """`pip install .` fails when the readme pyproject.toml names is missing from the context."""
    readme = pyproject()["project"].get("readme")
    if isinstance(readme, dict):
        readme = readme.get("file")
    if readme:
        assert (ROOT / readme).is_file(), f"pyproject.toml names {readme}, which does not exist: the image build fails"
        assert not dockerignored(readme), f".dockerignore drops {readme}, which `pip install .` reads"


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "trainboard.sqlite",
        ".venv/bin/python",
        ".git/HEAD",
        "data/MNIST/raw/x",
        "tests/test_x.py",
        "backend/__pycache__/m.pyc",
    ],
)
def test_build_context_leaves_out_secrets_and_local_state(path: str) -> None:
    assert dockerignored(path), f"{path} would be sent to the Docker build and could end up in an image"
