"""os_distro, os_version and architecture as Nova and the EGI information system expect them."""

from __future__ import annotations

import json

import pytest

from ckos.adapters.glance.ecosystem import ecosystem_properties
from ckos.adapters.glance.os_info import OsInfo, canonical_architecture, os_info
from ckos.domain.model import Appliance


@pytest.mark.parametrize(
    ("operating_system", "title", "expected"),
    [
        ("Linux Ubuntu 22.04", "", OsInfo("ubuntu", "22.04")),
        ("Linux CentOS 7", "", OsInfo("centos", "7")),
        ("Linux AlmaLinux 9.3", "", OsInfo("almalinux", "9.3")),
        ("Linux Rocky Linux 8.9", "", OsInfo("rocky", "8.9")),
        ("Linux Rocky 9", "", OsInfo("rocky", "9")),
        ("Linux Debian 12", "", OsInfo("debian", "12")),
        ("Linux Fedora 39", "", OsInfo("fedora", "39")),
        ("Linux openSUSE Leap 15.5", "", OsInfo("opensuse", "15.5")),
        ("Linux Scientific Linux 7.9", "", OsInfo("scientificlinux", "7.9")),
        ("Linux  Ubuntu   20.04 LTS", "", OsInfo("ubuntu", "20.04")),
        ("Ubuntu 16.04", "", OsInfo("ubuntu", "16.04")),
        ("", "Image for EGI Ubuntu 18.04 [Ubuntu/18.04/KVM]", OsInfo("ubuntu", "18.04")),
        ("Linux", "Image for EGI CentOS 7 [CentOS/7/KVM]", OsInfo("centos", "7")),
        ("Linux CentOS", "Image for EGI CentOS 7 [CentOS/7/KVM]", OsInfo("centos", "7")),
        ("Linux Debian 11", "Image [Ubuntu/18.04/KVM]", OsInfo("debian", "11")),  # the OS field wins
        ("Linux Ubuntu", "", OsInfo("ubuntu", "")),
        ("", "Image [Ubuntu/Bionic/KVM]", OsInfo("ubuntu", "")),
        ("Linux Other 1.0", "Image without a suffix", None),
        ("", "", None),
        ("Linux", "", None),
    ],
)
def test_os_info(operating_system: str, title: str, expected: OsInfo | None) -> None:
    assert os_info(operating_system, title) == expected


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [
        ("x86_64", "x86_64"),
        ("amd64", "x86_64"),
        ("x86-64", "x86_64"),
        ("X86_64", "x86_64"),
        ("arm64", "aarch64"),
        ("aarch64", "aarch64"),
        ("i386", "i686"),
        ("i686", "i686"),
        ("ppc64el", "ppc64le"),
        ("s390x", "s390x"),
        ("pdp11", None),  # Nova would refuse to boot it: better left out
        ("", None),
    ],
)
def test_canonical_architecture(architecture: str, expected: str | None) -> None:
    assert canonical_architecture(architecture) == expected


def test_properties_without_a_value_are_left_out() -> None:
    appliance = Appliance(
        "id", "list", "vo", "https://m/", architecture="pdp11", operating_system="Linux Ubuntu"
    )
    properties = ecosystem_properties(appliance)
    assert "architecture" not in properties
    assert "os_version" not in properties
    assert properties["os_distro"] == "ubuntu"


def test_a_huge_description_stays_out_of_the_attributes_but_not_out_of_the_description() -> None:
    appliance = Appliance("id", "list", "vo", "https://m/", description="é" * 40000)
    properties = ecosystem_properties(appliance)
    assert properties["vmcatcher_event_dc_description"] == appliance.description
    assert "dc:description" not in json.loads(properties["APPLIANCE_ATTRIBUTES"])
    assert json.loads(properties["APPLIANCE_ATTRIBUTES"])["dc:identifier"] == "id"
