"""Build the cloudkeeper-os .deb (Debian 12) and .rpm (EL9): `make deb`, `make rpm`.

    python packaging/build.py deb rpm [--version V] [--out DIR] [--compression best|fast]

Both install a virtual environment at /opt/cloudkeeper-os holding ckos's wheel and the
dependencies pinned in constraints.txt, `/usr/bin/cloudkeeper-os` (a symlink to its entry point),
the sample configuration as configuration files that upgrades keep, the systemd units (ExecStart
rewritten to /usr/bin/cloudkeeper-os), the `cloudkeeper-os` user and the cache directory.

The venv is made at its final path without writing there: `/usr/bin/python3.11 -m venv` in a
staging directory, then what names the staging path is rewritten to /opt/cloudkeeper-os (the
shebangs pip wrote, the activate scripts, pyvenv.cfg), the .pyc are compiled with the final
path as their source path, and the build fails if the staging path is left in any file or
symlink. This is what dh-virtualenv and rpmvenv do; the only interpreter the venv refers to is
/usr/bin/python3.11, which Debian 12 and EL9 both provide.

Dependencies are installed from wheels only, chosen for the oldest glibc of the targets (EL9:
2.34), so that no extension is compiled against this machine's libraries. They are downloaded
once per constraints.txt and pyproject.toml into .cache/packaging/ (the version of ckos does not
matter). Prints the path of each package built.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "packaging"
NAME = "cloudkeeper-os"
PREFIX = Path("/opt/cloudkeeper-os")
TARGET_PYTHON = Path("/usr/bin/python3.11")
COMMAND = Path("/usr/bin/cloudkeeper-os")
UNIT_COMMAND = "/usr/local/bin/cloudkeeper-os"  # what the repository's units name
UNITS = ("cloudkeeper-os.service", "cloudkeeper-os-sync.service", "cloudkeeper-os-sync.timer")
CONFIG_FILES = ("cloudkeeper-os.toml", "mapping.json")
RPM_RELEASE = "1.el9"
DEB_REVISION = "1"
# EL9's glibc: wheels for it run on Debian 12's (2.36) too.
OLDEST_GLIBC_MINOR = 34
MAINTAINER = os.environ.get("CKOS_MAINTAINER", "ckos developers <ckos@example.invalid>")
DESCRIPTION = """\
OpenStack Glance backend of Cloudkeeper (ckos)
 cloudkeeper-os (ckos) is the OpenStack backend of Cloudkeeper: a gRPC daemon that
 registers, updates, hides and removes Glance images in the OpenStack project mapped to
 each VO, and `cloudkeeper-os sync`, which reads OCI registries and HEPiX image lists itself.
 .
 A virtual environment in /opt/cloudkeeper-os holds it and its pinned dependencies; it runs
 on the system's Python 3.11."""


def log(message: str) -> None:
    print(f"build: {message}", file=sys.stderr, flush=True)


def run(*command: str | Path) -> None:
    """`command`, its output on stderr (stdout lists the packages built)."""
    subprocess.run([str(part) for part in command], check=True, stdout=sys.stderr)


def project_version() -> str:
    """ckos.__version__, read from the source without importing it."""
    tree = ast.parse((REPO / "src" / "ckos" / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit("build: no __version__ in src/ckos/__init__.py")


def package_version(version: str) -> str:
    """A PEP 440 version spelt so that dpkg and rpm order it as PEP 440 does.

    Pre-releases and development releases sort before their release (~), post-releases after
    it and before the next (+). Epochs and local versions are refused.
    """
    parsed = Version(version)
    text = ".".join(str(part) for part in parsed.release)
    if parsed.epoch:
        raise SystemExit(f"build: version {version}: epochs are not supported")
    if parsed.pre is not None:
        text += f"~{parsed.pre[0]}{parsed.pre[1]}"
    if parsed.post is not None:  # + sorts below ., so that 1.0+post1 < 1.0.1 for dpkg
        text += f"+post{parsed.post}"
    if parsed.dev is not None:  # before the pre-releases of its release too: 1.0~~dev1 < 1.0~a1
        text += f"~~dev{parsed.dev}"
    if parsed.local is not None:
        raise SystemExit(f"build: version {version}: local versions (+...) are not packaged")
    return text


def build_wheel(work: Path, version: str) -> Path:
    """ckos's wheel, from a copy of the project (the work tree stays clean) at `version`."""
    source = _mkdir(work / "source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src" / "ckos", source / "src" / "ckos", ignore=shutil.ignore_patterns("__pycache__")
    )
    init = source / "src" / "ckos" / "__init__.py"
    text, count = re.subn(
        r'^__version__ = "[^"]*"$', f'__version__ = "{version}"', init.read_text(), flags=re.MULTILINE
    )
    if count != 1:
        raise SystemExit("build: cannot set __version__ in src/ckos/__init__.py")
    init.write_text(text)
    dist = _mkdir(work / "dist")
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", source, "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", dist)
    [wheel] = dist.glob("ckos-*.whl")
    return wheel


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def target_platforms() -> list[str]:
    """Every manylinux tag a wheel may have to run on glibc 2.OLDEST_GLIBC_MINOR, x86_64."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(OLDEST_GLIBC_MINOR, 4, -1)]
    return [*tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def wheelhouse(wheel: Path, cache: Path) -> Path:
    """The dependencies' wheels, downloaded once per constraints.txt, pyproject.toml and targets."""
    key = hashlib.sha256()
    for name in ("constraints.txt", "pyproject.toml"):
        key.update((REPO / name).read_bytes())
    key.update(" ".join(target_platforms()).encode())
    house = cache / f"wheels-{key.hexdigest()[:16]}"
    if (house / ".complete").exists():
        return house
    log(f"downloading the dependencies' wheels into {house}")
    partial = Path(tempfile.mkdtemp(prefix="partial-", dir=_mkdir(cache)))
    platforms = [option for tag in target_platforms() for option in ("--platform", tag)]
    download: list[str | Path] = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", partial]
    download += ["--only-binary=:all:", "--constraint", REPO / "constraints.txt", *platforms]
    download += ["--python-version", "3.11", "--implementation", "cp"]
    download += ["--abi", "cp311", "--abi", "abi3", "--abi", "none", wheel]
    run(*download)
    for own in partial.glob("ckos-*.whl"):
        own.unlink()
    (partial / ".complete").touch()
    try:
        partial.rename(house)
    except OSError:  # another build was first: use its wheels
        shutil.rmtree(partial)
    for stale in cache.glob("wheels-*"):
        if stale != house:
            shutil.rmtree(stale, ignore_errors=True)
    return house


def make_venv(root: Path, wheel: Path, house: Path, version: str) -> None:
    """The venv at root/opt/cloudkeeper-os, holding nothing that names root."""
    venv = root / PREFIX.relative_to("/")
    venv.parent.mkdir(parents=True)
    log(f"making the venv with {TARGET_PYTHON}")
    run(TARGET_PYTHON, "-m", "venv", "--without-pip", venv)
    # ckos by name from a folder (not by file): pip then records no direct_url.json naming it.
    run(
        *(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet"),
        *("--no-index", "--find-links", house, "--find-links", wheel.parent, "--only-binary=:all:"),
        *("--no-compile", "--constraint", REPO / "constraints.txt", f"ckos=={version}"),
    )
    staged = str(venv).encode()
    final = str(PREFIX).encode()
    for path in [*(venv / "bin").iterdir(), venv / "pyvenv.cfg"]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if staged in data:
                path.write_bytes(data.replace(staged, final))
    # The .pyc name the final path as their source (tracebacks); shipping them means an import
    # by root writes none into /opt, where the package manager would not remove it.
    run(
        *(venv / "bin" / "python", "-m", "compileall", "-q", "-j", "0"),
        *("-s", root, "-p", "/", venv / "lib"),
    )
    left = [str(path) for path in names_path(venv, str(root).encode())]
    if left:
        raise SystemExit("build: the staging path is left in:\n  " + "\n  ".join(left))


def names_path(tree: Path, path: bytes) -> list[Path]:
    """The files and symlinks under tree whose content or target contains path."""
    found = []
    for directory, directories, files in os.walk(tree):  # symlinks to directories: in directories
        for name in [*directories, *files]:
            file = Path(directory, name)
            if file.is_symlink():
                if path in os.fsencode(os.readlink(file)):
                    found.append(file)
            elif file.is_file() and path in file.read_bytes():
                found.append(file)
    return found


def add_common_files(root: Path, unit_dir: Path) -> None:
    """The command, the sample configuration, the units and the cache directory."""
    command = root / COMMAND.relative_to("/")
    command.parent.mkdir(parents=True, exist_ok=True)
    command.symlink_to(PREFIX / "bin" / NAME)
    config = root / "etc" / NAME
    config.mkdir(parents=True)
    config.chmod(0o750)
    for name in CONFIG_FILES:
        shutil.copy(REPO / "config" / name, config / name)
        (config / name).chmod(0o640)
    units = root / unit_dir.relative_to("/")
    units.mkdir(parents=True)
    for name in UNITS:
        text = (REPO / "config" / name).read_text()
        if name.endswith(".service") and f"ExecStart={UNIT_COMMAND} " not in text:
            raise SystemExit(f"build: config/{name}: ExecStart no longer runs {UNIT_COMMAND}")
        (units / name).write_text(text.replace(UNIT_COMMAND, str(COMMAND)))
        (units / name).chmod(0o644)
    cache = root / "var" / "cache" / NAME
    cache.mkdir(parents=True)
    cache.chmod(0o750)


def installed_size_kib(root: Path) -> int:
    total = 0
    for directory, directories, files in os.walk(root):
        total += len(directories)
        for name in files:
            total += (os.lstat(Path(directory, name)).st_size + 1023) // 1024
    return total


def md5sums(root: Path, skip: list[str]) -> list[str]:
    """DEBIAN/md5sums (for `dpkg --verify`): every regular file but the conffiles, as dh_md5sums."""
    lines = []
    for directory, directories, files in os.walk(root):
        directories.sort()
        for name in sorted(files):
            file = Path(directory, name)
            relative = file.relative_to(root).as_posix()
            if file.is_symlink() or relative.startswith("DEBIAN/") or f"/{relative}" in skip:
                continue
            lines.append(f"{hashlib.md5(file.read_bytes(), usedforsecurity=False).hexdigest()}  {relative}\n")
    return lines


def build_deb(venv_root: Path, work: Path, out: Path, version: str, compression: str) -> Path:
    root = work / "deb"
    shutil.copytree(venv_root, root, symlinks=True)
    add_common_files(root, Path("/lib/systemd/system"))
    full_version = f"{package_version(version)}-{DEB_REVISION}"
    control = root / "DEBIAN"
    control.mkdir()
    fields = {
        "Package": NAME,
        "Version": full_version,
        "Architecture": "amd64",
        "Maintainer": MAINTAINER,
        "Installed-Size": str(installed_size_kib(root)),
        "Depends": "python3.11, adduser, procps",  # procps: /bin/kill, the unit's ExecReload
        "Recommends": "qemu-utils",
        "Section": "admin",
        "Priority": "optional",
        "Homepage": "https://github.com/the-cloudkeeper-project",
        "Description": DESCRIPTION,
    }
    (control / "control").write_text("".join(f"{key}: {value}\n" for key, value in fields.items()))
    conffiles = [f"/etc/{NAME}/{name}" for name in CONFIG_FILES]
    (control / "conffiles").write_text("".join(f"{path}\n" for path in conffiles))
    (control / "md5sums").write_text("".join(md5sums(root, skip=conffiles)))
    for script in ("postinst", "prerm", "postrm"):
        shutil.copy(HERE / "deb" / script, control / script)
        (control / script).chmod(0o755)
    deb = out / f"{NAME}_{full_version}_amd64.deb"
    options = ["-Zxz", "-z6"] if compression == "best" else ["-Zzstd", "-z3"]
    log(f"dpkg-deb ({options[0][2:]})")
    run("dpkg-deb", "--root-owner-group", *options, "--build", root, deb)
    return deb


def build_rpm(venv_root: Path, work: Path, out: Path, version: str, compression: str) -> Path:
    root = work / "rpm-root"
    shutil.copytree(venv_root, root, symlinks=True)
    add_common_files(root, Path("/usr/lib/systemd/system"))
    rpm_version = package_version(version)
    name = f"{NAME}-{rpm_version}-{RPM_RELEASE}.x86_64.rpm"
    # EL9's own default payload (zstd 19); a faster level for the tests.
    payload = "w19.zstdio" if compression == "best" else "w3.zstdio"
    log(f"rpmbuild ({payload})")
    defines = {
        "_topdir": str(work / "rpmbuild"),
        "_rpmdir": str(out),
        "_build_name_fmt": name,
        "_binary_payload": payload,
        "ckos_version": rpm_version,
        "ckos_stage": str(root),
    }
    options = [part for key, value in defines.items() for part in ("--define", f"{key} {value}")]
    spec = HERE / "rpm" / f"{NAME}.spec"
    run("rpmbuild", "-bb", "--quiet", "--target", "x86_64", *options, spec)
    return out / name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("formats", nargs="+", choices=("deb", "rpm"))
    parser.add_argument("--version", help="package this version (default: ckos.__version__)")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="where to write the packages")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "packaging")
    parser.add_argument(
        "--compression", choices=("best", "fast"), default="best", help="fast: for tests (zstd 3)"
    )
    arguments = parser.parse_args()
    version = arguments.version or project_version()
    package_version(version)  # refuse what cannot be packaged before building
    if platform.machine() != "x86_64":
        raise SystemExit("build: the packages hold x86_64 binaries: build them on x86_64")
    if not TARGET_PYTHON.exists():
        raise SystemExit(f"build: {TARGET_PYTHON} is needed (scripts/setup-packaging installs it)")
    os.umask(0o022)
    out = _mkdir(arguments.out.resolve())
    with tempfile.TemporaryDirectory(prefix="ckos-packaging-") as temporary:
        work = Path(temporary)
        wheel = build_wheel(work, version)
        house = wheelhouse(wheel, arguments.cache.resolve())
        venv_root = work / "venv-root"
        make_venv(venv_root, wheel, house, version)
        builders = {"deb": build_deb, "rpm": build_rpm}
        for kind in dict.fromkeys(arguments.formats):
            print(builders[kind](venv_root, work, out, version, arguments.compression), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
