"""`make deb`: the package, installed into a clean Debian 12 root, upgraded, removed and purged."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

from packaging.version import Version

from support.daemon_process import free_port
from support.debian_root import (
    ASCENDING_VERSIONS,
    CONFIG,
    ENVIRONMENT,
    MAPPING,
    SITE_KEYSTONE,
    DebianRoot,
    Packages,
    configure,
    package_version,
)

USER = "cloudkeeper-os"
UNITS = ("cloudkeeper-os.service", "cloudkeeper-os-sync.service", "cloudkeeper-os-sync.timer")


def dpkg_deb(*arguments: str | Path) -> str:
    done = subprocess.run(["dpkg-deb", *map(str, arguments)], capture_output=True, text=True, check=True)
    return done.stdout


def install(root: DebianRoot, deb: Path, *options: str) -> subprocess.CompletedProcess[str]:
    copy = root.copy_in(deb)
    try:
        # --force-unsafe-io: no fsync per file (minutes over the venv's thousands of files on disk)
        return root.run("dpkg", "--force-unsafe-io", *options, "--install", copy)
    finally:
        root.file(copy).unlink()


def serves_over_the_memory_catalog(root: DebianRoot) -> None:
    """The daemon, as its unit runs it, starts (gRPC and every library it loads from the venv)
    and stops cleanly on SIGTERM."""
    config = "/tmp/memory.toml"
    root.file(config).write_text(
        f'[server]\nlisten = "127.0.0.1:{free_port()}"\nshutdown_grace = 1.0\n'
        f'[mapping]\nfile = "{MAPPING}"\n[catalog]\ntype = "memory"\n'
    )
    command = root.command("cloudkeeper-os", "serve", "--config", config, user=USER)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENVIRONMENT
    ) as daemon:
        try:
            assert daemon.stdout is not None
            lines = []
            for line in daemon.stdout:
                lines.append(line)
                if "serving cloudkeeper_grpc.Communicator" in line:
                    break
            else:
                raise AssertionError("".join(lines))
            daemon.terminate()  # the daemon itself: every step before it exec'd
            assert daemon.wait(timeout=30) == 0, "".join(lines) + daemon.stdout.read()
        finally:
            daemon.kill()
    root.file(config).unlink()


def stat(root: DebianRoot, path: str) -> str:
    """`mode user:group` of a path in the root, as the root's own tools name them."""
    return root.run("stat", "-c", "%a %U:%G", path).stdout.strip()


def test_the_package_declares_its_configuration_files_and_what_it_needs(packages: Packages) -> None:
    assert dpkg_deb("-f", packages.deb, "Package", "Architecture") == (
        "Package: cloudkeeper-os\nArchitecture: amd64\n"
    )
    assert dpkg_deb("-f", packages.deb, "Version").strip() == f"{packages.version}-1"  # one field: its value
    depends = dpkg_deb("-f", packages.deb, "Depends").strip()
    assert {part.strip() for part in depends.split(",")} == {"python3.11", "adduser", "procps"}
    assert dpkg_deb("--info", packages.deb, "conffiles").split() == [CONFIG, MAPPING]
    names = {line.split()[5].removeprefix(".") for line in dpkg_deb("--contents", packages.deb).splitlines()}
    assert {f"/lib/systemd/system/{unit}" for unit in UNITS} <= names
    assert {"/usr/bin/cloudkeeper-os", "/opt/cloudkeeper-os/bin/cloudkeeper-os", CONFIG, MAPPING} <= names
    assert not any(name.startswith("/usr/local") for name in names)


def test_it_installs_runs_and_is_removed_then_purged_in_a_clean_debian_12(
    packages: Packages, debian: DebianRoot
) -> None:
    install(debian, packages.deb)

    version = debian.run("cloudkeeper-os", "--version", user=USER)
    assert version.stdout.strip() == f"cloudkeeper-os {packages.version}"
    assert debian.run("readlink", "/usr/bin/cloudkeeper-os").stdout.strip() == (
        "/opt/cloudkeeper-os/bin/cloudkeeper-os"
    )
    # The venv runs on the system's Python, and its entry point names its final path.
    python = debian.run("readlink", "-f", "/opt/cloudkeeper-os/bin/python").stdout.strip()
    assert python == "/usr/bin/python3.11"
    shebang = debian.file("/opt/cloudkeeper-os/bin/cloudkeeper-os").read_text().splitlines()[0]
    assert shebang == "#!/opt/cloudkeeper-os/bin/python"
    # Nothing names the directory it was built in (packaging/build.py's temporary directory).
    staged = debian.run("grep", "-rl", "ckos-packaging-", "/opt/cloudkeeper-os", check=False)
    assert staged.returncode == 1, staged.stdout

    # Every file is as shipped (md5sums), and the package is configured.
    assert debian.run("dpkg", "--verify", "cloudkeeper-os").stdout == ""
    assert "ii  cloudkeeper-os" in debian.run("dpkg", "-l", "cloudkeeper-os").stdout

    # The shipped sample is valid as installed (its auth_url a placeholder), and readable by the user
    # the units run as; filled in with the site's Keystone, still.
    untouched = debian.run("cloudkeeper-os", "check-config", user=USER)  # the shipped sample is valid
    assert "configuration is valid" in untouched.stdout
    configure(debian)
    checked = debian.run("cloudkeeper-os", "check-config", user=USER)
    assert "configuration is valid" in checked.stdout
    assert "VO fedcloud.egi.eu -> project Default/fedcloud" in checked.stdout  # the shipped mapping

    serves_over_the_memory_catalog(debian)

    passwd = debian.run("getent", "passwd", USER).stdout.strip().split(":")
    assert int(passwd[2]) < 1000  # a system user
    assert passwd[6] == "/usr/sbin/nologin"
    assert debian.run("id", "-gn", USER).stdout.strip() == USER
    assert stat(debian, "/etc/cloudkeeper-os") == f"750 root:{USER}"
    assert stat(debian, CONFIG) == stat(debian, MAPPING) == f"640 root:{USER}"
    assert stat(debian, "/var/cache/cloudkeeper-os") == f"750 {USER}:{USER}"

    for unit in UNITS:
        text = debian.file(f"/lib/systemd/system/{unit}").read_text()
        assert "/usr/local/bin" not in text
        if unit.endswith(".service"):
            command = r"^ExecStart=/usr/bin/cloudkeeper-os (serve|sync) --config " + re.escape(CONFIG) + "$"
            assert re.search(command, text, re.MULTILINE), unit
    verified = debian.run("systemd-analyze", "verify", *(f"/lib/systemd/system/{unit}" for unit in UNITS))
    assert verified.stderr.strip() == ""

    # Removal (no systemd runs in the root: the prerm must not fail for that) keeps the
    # configuration and the user. The command ran as root above: had an import written .pyc
    # into /opt, dpkg would have left them there.
    debian.run("dpkg", "--remove", "cloudkeeper-os")
    for gone in (
        "/opt/cloudkeeper-os",
        "/usr/bin/cloudkeeper-os",
        "/lib/systemd/system/cloudkeeper-os.service",
    ):
        assert not debian.file(gone).is_symlink(), gone
        assert not debian.file(gone).exists(), gone
    assert f'auth_url = "{SITE_KEYSTONE}"' in debian.file(CONFIG).read_text()  # the admin's edit
    assert debian.file(MAPPING).exists()
    assert debian.run("getent", "passwd", USER).returncode == 0

    # Purge deletes the configuration and the cache; the user is kept (files it owned may remain).
    debian.run("dpkg", "--purge", "cloudkeeper-os")
    assert not debian.file("/etc/cloudkeeper-os").exists()
    assert not debian.file("/var/cache/cloudkeeper-os").exists()
    assert debian.run("getent", "passwd", USER).returncode == 0
    assert debian.run("dpkg-query", "-W", "cloudkeeper-os", check=False).returncode != 0
    left = debian.run("find", "/", "-xdev", "-name", "*cloudkeeper-os*")
    assert left.stdout.strip() == ""


def test_upgrades_keep_the_edited_configuration(
    packages: Packages, newer_deb: Packages, debian: DebianRoot, tmp_path: Path
) -> None:
    install(debian, packages.deb)
    edited = configure(debian)

    # Unchanged in the package, edited by the admin: dpkg keeps the edit without asking.
    install(debian, newer_deb.deb)
    version = debian.run("cloudkeeper-os", "--version", user=USER)
    assert version.stdout.strip() == f"cloudkeeper-os {newer_deb.version}"
    assert debian.file(CONFIG).read_text() == edited
    assert stat(debian, CONFIG) == f"640 root:{USER}"
    assert "configuration is valid" in debian.run("cloudkeeper-os", "check-config", user=USER).stdout

    # Changed in the package too (a new sample): what dpkg would ask about; --force-confold
    # keeps the edit and puts the new sample beside it.
    tree = tmp_path / "tree"
    dpkg_deb("--raw-extract", newer_deb.deb, tree)
    sample = tree / "etc" / "cloudkeeper-os" / "cloudkeeper-os.toml"
    sample.write_text(sample.read_text() + "# a new sample\n")
    changed = tmp_path / newer_deb.deb.name
    dpkg_deb("--root-owner-group", "-Zzstd", "-z1", "--build", tree, changed)
    install(debian, changed, "--force-confold")
    assert debian.file(CONFIG).read_text() == edited
    assert debian.file(CONFIG + ".dpkg-dist").read_text().endswith("# a new sample\n")
    assert stat(debian, CONFIG) == f"640 root:{USER}"


def test_dpkg_orders_the_package_versions_as_pep_440_does() -> None:
    assert sorted(ASCENDING_VERSIONS, key=Version) == list(ASCENDING_VERSIONS)
    versions = [f"{package_version(version)}-1" for version in ASCENDING_VERSIONS]
    for lower, higher in itertools.pairwise(versions):
        compared = subprocess.run(["dpkg", "--compare-versions", lower, "lt", higher], check=False)
        assert compared.returncode == 0, (lower, higher)
