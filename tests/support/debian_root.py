"""A clean Debian 12 root (debootstrap) to install the packages into, and the packages to install.

The root is made once and kept as a tarball in .cache/packaging/; each test unpacks a fresh copy
and deletes it afterwards. Commands run in it through chroot inside a private mount namespace
(`unshare --mount`), where /proc is mounted: the mount ends with the command, nothing outlives
it on this machine, and no systemd runs in the root (as in an image build).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attrs import frozen

# PEP 440 versions in ascending order, as packaging/build.py must keep them for dpkg and rpm.
ASCENDING_VERSIONS = (
    "0.9",
    "1.0.dev1",
    "1.0a1.dev2",
    "1.0a1",
    "1.0b2",
    "1.0rc1",
    "1.0",
    "1.0.post1.dev1",
    "1.0.post1",
    "1.0.post2",
    "1.0.1",
    "1.1",
    "10.0",
)

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "packaging"
SUITE = "bookworm"
# What the packages need that a minimal Debian lacks, and systemd for `systemd-analyze verify`.
INCLUDE = ("python3.11", "adduser", "procps", "systemd")
# Optional: a Debian mirror for debootstrap (default: debootstrap's own).
MIRROR = os.environ.get("CKOS_DEBIAN_MIRROR", "")
# Roots and builds are written to memory where it can be had: on disk, unpacking a root and
# dpkg's work take ten times longer (seconds each, with thousands of files).
SHM = Path("/dev/shm")
ENVIRONMENT = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
CONFIG = "/etc/cloudkeeper-os/cloudkeeper-os.toml"
MAPPING = "/etc/cloudkeeper-os/mapping.json"


@frozen
class Packages:
    """Packages built for the tests, of one version."""

    version: str
    deb: Path
    rpm: Path | None


def package_version(version: str) -> str:
    """packaging/build.py's mapping of a PEP 440 version to a .deb and .rpm version."""
    spec = importlib.util.spec_from_file_location("ckos_packaging_build", REPO / "packaging" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mapped: str = module.package_version(version)
    return mapped


def scratch(default: Path) -> Path:
    """Where to put roots and builds: /dev/shm when it has room, else `default`."""
    if not (SHM.is_dir() and os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).free > 4 << 30):
        return default
    # The roots run programs and hold device files.
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mountpoint, _, options, *_ = line.split()
        if mountpoint == str(SHM) and {"noexec", "nodev"} & set(options.split(",")):
            return default
    return SHM


def build_packages(out: Path, version: str, *formats: str) -> list[Path]:
    """packaging/build.py at `version`, zstd-compressed for speed; the paths it built."""
    subprocess.run([REPO / "scripts" / "setup-packaging"], check=True, timeout=600)
    command = [sys.executable, str(REPO / "packaging" / "build.py"), *formats, "--version", version]
    done = subprocess.run(
        [*command, "--out", str(out), "--compression", "fast"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(scratch(Path(tempfile.gettempdir())))},
    )
    return [Path(line) for line in done.stdout.splitlines()]


def base_tarball() -> Path:
    """The debootstrapped root as a tarball, made on first use (about a minute)."""
    subprocess.run([REPO / "scripts" / "setup-packaging"], check=True, timeout=600)
    tarball = CACHE / f"{SUITE}-minbase-{'-'.join(INCLUDE)}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ckos-debootstrap-", dir=scratch(CACHE)) as work:
        root = Path(work) / "root"
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE, str(root)]
        done = subprocess.run(
            command + ([MIRROR] if MIRROR else []), capture_output=True, text=True, timeout=900, check=False
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        for download in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            download.unlink()
        descriptor, name = tempfile.mkstemp(prefix="partial-", suffix=".tar", dir=CACHE)
        os.close(descriptor)
        partial = Path(name)
        try:
            subprocess.run(
                ["tar", "-C", root, "--numeric-owner", "-cf", partial, "."], check=True, timeout=300
            )
            partial.rename(tarball)  # whole or not at all, for concurrent sessions too
        finally:
            partial.unlink(missing_ok=True)
    return tarball


@frozen
class DebianRoot:
    path: Path

    def command(self, *command: str, user: str | None = None) -> list[str]:
        """The command line that runs `command` inside the root, as root or as `user`.

        Every step execs the next: the process started is, in the end, `command` itself.
        """
        # setpriv resolves the user in the root (it need not exist on this machine).
        as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] if user else []
        mount = f'mount -t proc proc "{self.path}/proc" && exec chroot "{self.path}" "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh", *as_user, *command]

    def run(
        self, *command: str, user: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`command` inside the root, as root or as `user`; stdout and stderr captured."""
        done = subprocess.run(
            self.command(*command, user=user),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=ENVIRONMENT,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def copy_in(self, package: Path) -> str:
        """The package copied into the root's /tmp; its path there."""
        shutil.copy(package, self.path / "tmp" / package.name)
        return f"/tmp/{package.name}"

    def file(self, inside: str) -> Path:
        return self.path / inside.lstrip("/")


@contextmanager
def fresh_root(tarball: Path, parent: Path) -> Iterator[DebianRoot]:
    """A new copy of the root (in memory, else in `parent`), deleted afterwards whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="ckos-debian-root-", dir=scratch(parent)))
    try:
        subprocess.run(["tar", "-C", root, "--numeric-owner", "-xf", tarball], check=True, timeout=300)
        yield DebianRoot(root)
    finally:
        shutil.rmtree(root)


PLACEHOLDER = "https://keystone.example.org:5000/v3"  # in config/cloudkeeper-os.toml
SITE_KEYSTONE = "https://keystone.site.example:5000/v3"


def configure(root: DebianRoot) -> str:
    """What the admin does first: name the site's Keystone in the installed configuration
    (the shipped sample names a placeholder). Returns the configuration's new text.
    """
    path = root.file(CONFIG)
    text = path.read_text()
    edited = text.replace(f'auth_url = "{PLACEHOLDER}"', f'auth_url = "{SITE_KEYSTONE}"', 1)
    assert edited != text
    path.write_text(edited)
    return edited
