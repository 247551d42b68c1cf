"""environment.yml (conda, Binder) agrees with pyproject.toml, the one dependency list."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# A PEP 508 requirement starts with the distribution name.
NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
# conda specs: "python>=3.11", "python =3.11", "conda-forge::redis-py 5.0"
CONDA_SPEC = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*(.*)$")
EDITABLE_SELF = re.compile(r"^-e\s+\.(?:\[([^\]]*)\])?$")

# Installed by conda only to run the pip section; not a project dependency.
CONDA_TOOLING = {"pip"}


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return normalize(match.group(1))


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def load_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def pyproject_names(pyproject: dict[str, Any]) -> set[str]:
    project = pyproject["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {requirement_name(r) for r in requirements}


def split_environment(env: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The conda specs as {name: version spec}, and the pip section's lines."""
    conda: dict[str, str] = {}
    pip: list[str] = []
    for item in env.get("dependencies", []):
        if isinstance(item, dict):
            assert set(item) == {"pip"}, f"unexpected section {sorted(item)}"
            pip.extend(item["pip"])
        else:
            match = CONDA_SPEC.match(str(item))
            assert match is not None, f"unreadable conda spec {item!r}"
            conda[normalize(match.group(1))] = match.group(2).replace(" ", "")
    return conda, pip


def disagreements(env: dict[str, Any], pyproject: dict[str, Any]) -> list[str]:
    """Every way environment.yml fails to agree with pyproject.toml, in words."""
    problems: list[str] = []
    channels = env.get("channels") or []
    if not channels or channels[0] != "conda-forge":
        problems.append(f"channels should start with conda-forge, not {channels!r}")
    if "defaults" in channels:
        problems.append("the 'defaults' channel mixes badly with conda-forge")

    conda, pip = split_environment(env)
    floor = pyproject["project"]["requires-python"].replace(" ", "")
    if conda.get("python") != floor:
        problems.append(
            f"python in environment.yml is {conda.get('python')!r}, "
            f"pyproject requires-python is {floor!r}"
        )
    if "pip" not in conda:
        problems.append("pip must be a conda dependency to run the pip section")

    editable = [m for m in (EDITABLE_SELF.match(line.strip()) for line in pip) if m]
    if not editable:
        problems.append("the pip section must install the package itself: -e .[test]")
    elif "test" not in {x.strip() for x in (editable[0].group(1) or "").split(",")}:
        problems.append("the pip section must install the test extra: -e .[test]")

    declared = pyproject_names(pyproject)
    for name in sorted(set(conda) - {"python"} - CONDA_TOOLING):
        if name not in declared:
            problems.append(f"conda dependency {name!r} is not in pyproject.toml")
    for line in pip:
        if EDITABLE_SELF.match(line.strip()):
            continue
        name = requirement_name(line)
        if name not in declared:
            problems.append(f"pip dependency {name!r} is not in pyproject.toml")
    return problems


@pytest.fixture(scope="module")
def env() -> dict[str, Any]:
    return load_yaml(ROOT / "environment.yml")


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return load_toml(ROOT / "pyproject.toml")


def test_environment_yml_agrees_with_pyproject(
    env: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    assert disagreements(env, pyproject) == []


def test_the_python_floor_is_the_same_in_both_files(
    env: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    conda, _ = split_environment(env)
    assert conda["python"] == pyproject["project"]["requires-python"] == ">=3.11"


def test_the_pip_section_installs_the_package_with_its_test_extra(env: dict[str, Any]) -> None:
    _, pip = split_environment(env)
    assert "-e .[test]" in [line.strip() for line in pip]


def test_the_environment_uses_conda_forge(env: dict[str, Any]) -> None:
    assert env["channels"][0] == "conda-forge"


# The checker must be able to fail: feed it environments that disagree.

PYPROJECT = {
    "project": {
        "requires-python": ">=3.11",
        "dependencies": ["websockets>=17", "nest_asyncio>=1.6"],
        "optional-dependencies": {"test": ["pytest>=8"]},
    }
}
GOOD_ENV = {
    "channels": ["conda-forge"],
    "dependencies": ["python>=3.11", "pip", {"pip": ["-e .[test]"]}],
}


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**GOOD_ENV, **changes}


def test_the_checker_accepts_an_agreeing_environment() -> None:
    assert disagreements(GOOD_ENV, PYPROJECT) == []


def test_the_checker_accepts_conda_copies_of_declared_dependencies() -> None:
    env = with_changes(
        dependencies=["python >=3.11", "pip", "nest-asyncio", {"pip": ["-e .[test,dev]"]}]
    )
    assert disagreements(env, PYPROJECT) == []


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [
        (with_changes(channels=["defaults"]), "should start with conda-forge"),
        (with_changes(channels=["conda-forge", "defaults"]), "'defaults' channel"),
        (
            with_changes(dependencies=["python>=3.10", "pip", {"pip": ["-e .[test]"]}]),
            "python in environment.yml is '>=3.10'",
        ),
        (with_changes(dependencies=["python>=3.11", {"pip": ["-e .[test]"]}]), "pip must be"),
        (
            with_changes(dependencies=["python>=3.11", "pip", {"pip": ["websockets"]}]),
            "must install the package itself",
        ),
        (
            with_changes(dependencies=["python>=3.11", "pip", {"pip": ["-e ."]}]),
            "must install the test extra",
        ),
        (
            with_changes(dependencies=["python>=3.11", "pip", "redis", {"pip": ["-e .[test]"]}]),
            "conda dependency 'redis' is not in pyproject",
        ),
        (
            with_changes(
                dependencies=["python>=3.11", "pip", {"pip": ["-e .[test]", "requests>=2"]}]
            ),
            "pip dependency 'requests' is not in pyproject",
        ),
    ],
)
def test_the_checker_reports_each_kind_of_disagreement(
    environment: dict[str, Any], fragment: str
) -> None:
    problems = disagreements(environment, PYPROJECT)
    assert any(fragment in p for p in problems), problems
