"""Operating system and architecture facts, in the vocabulary Nova and libosinfo use."""

from __future__ import annotations

import re

from attrs import frozen

# Names as image lists spell them (lower-cased, single spaces) -> libosinfo-style os_distro.
_DISTROS = {
    "ubuntu": "ubuntu",
    "debian": "debian",
    "centos": "centos",
    "centos stream": "centos",
    "almalinux": "almalinux",
    "alma linux": "almalinux",
    "alma": "almalinux",
    "rocky": "rocky",
    "rocky linux": "rocky",
    "rockylinux": "rocky",
    "fedora": "fedora",
    "opensuse": "opensuse",
    "opensuse leap": "opensuse",
    "suse": "opensuse",
    "sles": "sles",
    "suse linux enterprise server": "sles",
    "scientific linux": "scientificlinux",
    "scientific": "scientificlinux",
    "scientificlinux": "scientificlinux",
    "sl": "scientificlinux",
    "red hat enterprise linux": "rhel",
    "redhat": "rhel",
    "rhel": "rhel",
    "oracle linux": "ol",
    "arch linux": "arch",
    "arch": "arch",
    "gentoo": "gentoo",
    "freebsd": "freebsd",
    "openbsd": "openbsd",
    "netbsd": "netbsd",
    "cirros": "cirros",
    "windows": "windows",
    "windows server": "windows",
}
# The operating system family AppDB puts before the distribution name ("Linux Ubuntu 22.04").
_FAMILIES = frozenset({"linux", "unix", "bsd"})
_TITLE_SUFFIX = re.compile(r"\[\s*([^/\]]+?)\s*/\s*([^/\]]*?)\s*(?:/[^\]]*)?\]\s*$")

# Nova rejects an image whose architecture it does not know, so anything else is left out.
_ARCH_ALIASES = {
    "amd64": "x86_64",
    "x86-64": "x86_64",
    "x64": "x86_64",
    "arm64": "aarch64",
    "armv8": "aarch64",
    "i386": "i686",
    "i486": "i686",
    "i586": "i686",
    "x86": "i686",
    "x86_32": "i686",
    "ia32": "i686",
    "armhf": "armv7l",
    "armv7": "armv7l",
    "ppc64el": "ppc64le",
}
_NOVA_NAMES = (
    "alpha armv6 armv7l armv7b aarch64 cris i686 ia64 lm32 m68k microblaze microblazeel mips mipsel "
    "mips64 mips64el openrisc parisc parisc64 ppc ppcle ppc64 ppc64le ppce500 s390 s390x sh4 sh4eb "
    "sparc sparc64 unicore32 x86_64 xtensa xtensaeb"
)
_NOVA_ARCHITECTURES = frozenset(_NOVA_NAMES.split())


@frozen
class OsInfo:
    distro: str
    version: str  # may be empty


def canonical_architecture(architecture: str) -> str | None:
    """Nova's name for the architecture, or None when Nova would not know it."""
    name = architecture.strip().lower()
    name = _ARCH_ALIASES.get(name, name)
    return name if name in _NOVA_ARCHITECTURES else None


def os_info(operating_system: str, title: str) -> OsInfo | None:
    """os_distro and os_version from "Linux Ubuntu 22.04", else from a "[Ubuntu/22.04/KVM]" title."""
    from_os = _parse_operating_system(operating_system)
    from_title = _parse_title(title)
    if from_os is None:
        return from_title
    if not from_os.version and from_title is not None and from_title.distro == from_os.distro:
        return from_title
    return from_os


def _parse_operating_system(text: str) -> OsInfo | None:
    words = text.split()
    at = next((i for i, word in enumerate(words) if word[0].isdigit()), len(words))
    name, version = words[:at], words[at] if at < len(words) else ""
    if len(name) > 1 and name[0].lower() in _FAMILIES:
        name = name[1:]
    return _known(" ".join(name), version)


def _parse_title(title: str) -> OsInfo | None:
    match = _TITLE_SUFFIX.search(title)
    if match is None:
        return None
    version = match.group(2) if match.group(2)[:1].isdigit() else ""
    return _known(match.group(1), version)


def _known(name: str, version: str) -> OsInfo | None:
    distro = _DISTROS.get(" ".join(name.lower().split()))
    return OsInfo(distro, version) if distro else None
