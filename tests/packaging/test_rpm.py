"""`make rpm`: what the EL9 package holds, declares and runs, then the package installed by rpm into
a clean root (Debian's, which has /usr/bin/python3.11 as EL9 does): its %pre, files and command."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from support.debian_root import (
    ASCENDING_VERSIONS,
    CONFIG,
    MAPPING,
    DebianRoot,
    Packages,
    configure,
    package_version,
)

USER = "cloudkeeper-os"
UNIT_DIR = "/usr/lib/systemd/system"
UNITS = ("cloudkeeper-os.service", "cloudkeeper-os-sync.service", "cloudkeeper-os-sync.timer")


@pytest.fixture(scope="module")
def rpm(packages: Packages) -> Path:
    assert packages.rpm is not None
    return packages.rpm


def query(rpm: Path, *options: str) -> str:
    done = subprocess.run(["rpm", "-qp", *options, str(rpm)], capture_output=True, text=True, check=True)
    return done.stdout


def test_it_is_named_for_el9(rpm: Path, packages: Packages) -> None:
    assert query(rpm, "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}") == (
        f"cloudkeeper-os {packages.version} 1.el9 x86_64"
    )


def test_it_holds_the_venv_the_command_the_units_and_the_configuration(rpm: Path) -> None:
    files = set(query(rpm, "--list").split())
    assert {
        "/opt/cloudkeeper-os/bin/cloudkeeper-os",
        "/opt/cloudkeeper-os/pyvenv.cfg",
        "/usr/bin/cloudkeeper-os",
        *(f"{UNIT_DIR}/{unit}" for unit in UNITS),
        "/etc/cloudkeeper-os",
        CONFIG,
        MAPPING,
        "/var/cache/cloudkeeper-os",
    } <= files
    assert any(name.startswith("/opt/cloudkeeper-os/lib/python3.11/site-packages/ckos/") for name in files)
    assert not any(name.startswith(("/usr/local", "/lib/", "/usr/lib/.build-id")) for name in files)


def test_the_configuration_files_are_kept_on_upgrade(rpm: Path) -> None:
    assert query(rpm, "--configfiles").split() == [CONFIG, MAPPING]
    flags = dict(
        line.split()
        for line in query(rpm, "--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]").splitlines()
        if line.startswith("/etc/cloudkeeper-os/")
    )
    assert flags == {CONFIG: "cn", MAPPING: "cn"}  # %config(noreplace)


def test_owners_and_modes(rpm: Path) -> None:
    # path size mtime digest mode owner group isconfig isdoc rdev symlink
    dump = {line.split()[0]: line.split() for line in query(rpm, "--dump").splitlines()}
    assert dump["/etc/cloudkeeper-os"][4:7] == ["040750", "root", USER]
    assert dump[CONFIG][4:7] == dump[MAPPING][4:7] == ["0100640", "root", USER]
    assert dump["/var/cache/cloudkeeper-os"][4:7] == ["040750", USER, USER]
    assert dump["/usr/bin/cloudkeeper-os"][10] == "/opt/cloudkeeper-os/bin/cloudkeeper-os"
    assert dump["/opt/cloudkeeper-os/bin/python3.11"][10] == "/usr/bin/python3.11"


def test_it_requires_python_3_11_and_provides_nothing_it_bundles(rpm: Path) -> None:
    requires = {line.split()[0] for line in query(rpm, "--requires").splitlines()}
    assert {"python3.11", "shadow-utils", "/bin/sh"} <= requires
    # No automatic requirements on the bundled libraries' sonames, nor provides of them.
    assert not [name for name in requires if ".so" in name]
    assert query(rpm, "--provides").split("\n")[:2] == [
        f"cloudkeeper-os = {query(rpm, '--queryformat', '%{VERSION}-%{RELEASE}')}",
        f"cloudkeeper-os(x86-64) = {query(rpm, '--queryformat', '%{VERSION}-%{RELEASE}')}",
    ]
    assert query(rpm, "--recommends").split() == ["qemu-img"]


def test_its_scripts_create_the_user_and_stop_the_units_where_systemd_runs(rpm: Path) -> None:
    scripts = query(rpm, "--scripts")
    pre = scripts.split("preinstall scriptlet")[1].split("scriptlet")[0]
    assert "getent group cloudkeeper-os >/dev/null || groupadd -r cloudkeeper-os" in pre
    assert "useradd -r -g cloudkeeper-os" in pre
    assert "-s /sbin/nologin" in pre
    preun = scripts.split("preuninstall scriptlet")[1].split("scriptlet")[0]
    assert '[ "$1" -eq 0 ] && [ -d /run/systemd/system ]' in preun
    assert "disable --now cloudkeeper-os-sync.timer cloudkeeper-os-sync.service" in preun
    assert "cloudkeeper-os.service" in preun
    postun = scripts.split("postuninstall scriptlet")[1]
    assert "systemctl try-restart cloudkeeper-os.service" in postun
    assert "userdel" not in scripts  # the user is kept


def test_installed_by_rpm_it_runs_and_keeps_an_edited_configuration(rpm: Path, debian: DebianRoot) -> None:
    def rpm_in_root(*arguments: str) -> None:
        subprocess.run(
            ["rpm", "--root", str(debian.path), *arguments], capture_output=True, text=True, check=True
        )

    rpm_in_root("--initdb")
    # --nodeps: the root's python3.11 is Debian's package, which rpm does not know of.
    rpm_in_root("--install", "--nodeps", str(rpm))

    assert debian.run("getent", "passwd", USER).stdout.split(":")[6].strip() == "/sbin/nologin"
    version = debian.run("cloudkeeper-os", "--version", user=USER)
    assert version.stdout.strip() == f"cloudkeeper-os {query(rpm, '--queryformat', '%{VERSION}')}"
    untouched = debian.run("cloudkeeper-os", "check-config", user=USER)  # the shipped sample is valid
    assert "configuration is valid" in untouched.stdout
    edited = configure(debian)
    assert "configuration is valid" in debian.run("cloudkeeper-os", "check-config", user=USER).stdout
    assert debian.run("stat", "-c", "%a %U:%G", CONFIG).stdout.strip() == f"640 root:{USER}"
    verified = debian.run("systemd-analyze", "verify", *(f"{UNIT_DIR}/{unit}" for unit in UNITS))
    assert verified.stderr.strip() == ""

    rpm_in_root("--erase", "--nodeps", "cloudkeeper-os")
    assert not debian.file("/opt/cloudkeeper-os").exists()
    assert debian.file(CONFIG + ".rpmsave").read_text() == edited  # rpm keeps an edited %config
    assert debian.run("getent", "passwd", USER).returncode == 0


def test_rpm_orders_the_package_versions_as_pep_440_does() -> None:
    versions = [package_version(version) for version in ASCENDING_VERSIONS]
    for lower, higher in itertools.pairwise(versions):
        compare = f'%{{lua: print(rpm.vercmp("{lower}", "{higher}"))}}'
        assert (
            subprocess.run(
                ["rpm", "--eval", compare], capture_output=True, text=True, check=True
            ).stdout.strip()
            == "-1"
        )
