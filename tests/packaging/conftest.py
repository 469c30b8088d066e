"""The .deb and .rpm, built once per test session, and clean Debian 12 roots to install them into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from ckos import __version__
from support.debian_root import DebianRoot, Packages, base_tarball, build_packages, fresh_root


def newer(version: str) -> str:
    """A version above `version` (its last release number plus one)."""
    release = list(Version(version).release)
    release[-1] += 1
    return ".".join(str(part) for part in release)


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    """The .deb and the .rpm of this version."""
    deb, rpm = build_packages(tmp_path_factory.mktemp("packages"), __version__, "deb", "rpm")
    return Packages(version=__version__, deb=deb, rpm=rpm)


@pytest.fixture(scope="session")
def newer_deb(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    """The .deb of a newer version, to upgrade to (no .rpm)."""
    version = newer(__version__)
    [deb] = build_packages(tmp_path_factory.mktemp("newer"), version, "deb")
    return Packages(version=version, deb=deb, rpm=None)


@pytest.fixture(scope="session")
def debian_tarball() -> Path:
    return base_tarball()


@pytest.fixture
def debian(debian_tarball: Path, tmp_path: Path) -> Iterator[DebianRoot]:
    """A clean Debian 12 root of this test's own, deleted afterwards."""
    with fresh_root(debian_tarball, tmp_path) as root:
        yield root
