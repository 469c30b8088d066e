"""`pip install .` gives the `cloudkeeper-os` command and the files it needs at run time."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ckos import __version__

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the project (the work tree stays clean)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src" / "ckos", source / "src" / "ckos", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", str(out)], check=True, capture_output=True, timeout=300)
    [built] = out.glob("ckos-*.whl")
    return built


def test_the_wheel_declares_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(
            name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")
        )
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    assert parser["console_scripts"]["cloudkeeper-os"] == "ckos.entrypoints.cli:main"


def test_the_wheel_holds_every_descriptor_set_and_type_marker(wheel: Path) -> None:
    wanted = {
        path.relative_to(REPO / "src").as_posix()
        for pattern in ("*.binpb", "py.typed")
        for path in (REPO / "src").rglob(pattern)
    }
    assert any(name.endswith("cloudkeeper.binpb") for name in wanted)
    with zipfile.ZipFile(wheel) as archive:
        assert wanted <= set(archive.namelist())


def test_the_wheel_requires_the_metrics_client(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        requires = [
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
        ]
    assert any("prometheus-client" in line for line in requires)


def test_the_installed_command_runs_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The dependencies come from the test environment; ckos itself from the wheel (first on the path).
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = "import ckos.entrypoints.grpc.strict as s; print(s.__file__, len(s.descriptor_set().file))"
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    module, files = found.stdout.split()
    assert Path(module).is_relative_to(target)
    assert int(files) >= 2
    command = target / "bin" / "cloudkeeper-os"
    version = subprocess.run(
        [sys.executable, str(command), "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"cloudkeeper-os {__version__}"
