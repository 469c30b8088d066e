"""[sync] and its source tables: read as the issue fixes them, refused clearly when wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ckos.config import ConfigError, parse

BASE = Path("/etc/cloudkeeper-os")
OCI = {
    "name": "egi-vm-images",
    "registry": "https://registry.egi.eu",
    "repositories": ["egi_vm_images/ubuntu", "egi_vm_images/alma"],
    "tags": "^[^-]*$",
    "vo": "fedcloud.egi.eu",
    "username": "",
    "password_file": "",
    "ca_bundle": "",
}


def test_the_sync_section_of_the_issue_reads_as_written() -> None:
    sync = parse(
        {
            "sync": {
                "work_dir": "/var/cache/cloudkeeper-os",
                "lock_file": "/run/cloudkeeper-os/sync.lock",
                "parallel": 2,
                "formats": ["raw", "qcow2"],
                "max_removals": 20,
                "max_removal_fraction": 0.5,
                "metrics_file": "",
                "oci": [OCI, {**OCI, "name": "other", "username": "robot$x", "password_file": "secret"}],
                "hepix": [
                    {
                        "name": "fedcloud",
                        "url": "https://lists.example.org/image.list",
                        "endorser_dn": "/CN=x",
                    }
                ],
            }
        },
        base=BASE,
    ).sync
    assert sync.formats == ("raw", "qcow2")
    assert sync.metrics_file is None
    assert [source.name for source in sync.oci] == ["egi-vm-images", "other"]
    assert sync.oci[0].repositories == ("egi_vm_images/ubuntu", "egi_vm_images/alma")
    assert sync.oci[0].password_file is None
    assert sync.oci[1].password_file == BASE / "secret"
    assert sync.hepix[0].crl == "required"
    assert sync.hepix[0].ca_dir == Path("/etc/grid-security/certificates")


@pytest.mark.parametrize(
    ("sync", "message"),
    [
        ({"oci": [{**OCI, "name": ""}]}, r"sync.oci\[0\] needs name"),
        ({"oci": [{**OCI, "repositories": []}]}, "at least one repository"),
        ({"oci": [{**OCI, "tags": "("}]}, "not a regular expression"),
        ({"oci": [{**OCI, "registry": "ftp://x"}]}, "http"),
        ({"oci": [{**OCI, "registry": "https://user:pw@registry.egi.eu"}]}, "must not hold credentials"),
        ({"oci": [{**OCI, "username": "robot"}]}, "username and password_file go together"),
        ({"oci": [{**OCI, "colour": "blue"}]}, r"unknown option\(s\) in \[sync.oci\[0\]\]: colour"),
        ({"oci": [OCI, OCI]}, "egi-vm-images used twice"),
        ({"oci": {"name": "x"}}, r"list of tables \(\[\[sync.oci\]\]\)"),
        ({"formats": ["ova"]}, "sync.formats: ova not one of raw, qcow2, vmdk, vdi"),
        ({"parallel": 0}, "sync.parallel must be at least 1"),
        ({"max_removal_fraction": 2}, "between 0 and 1"),
        ({"hepix": [{"name": "x", "url": "https://x/list"}]}, "needs endorser_dn"),
        (
            {"hepix": [{"name": "x", "url": "https://tok:x-oauth-basic@x/l", "endorser_dn": "/CN=a"}]},
            r"url must not hold credentials: use token_file$",
        ),
        (
            {"hepix": [{"name": "x", "url": "http://x/l", "endorser_dn": "/CN=a", "token_file": "t"}]},
            "a token is sent over https only",
        ),
        (
            {"hepix": [{"name": "x", "url": "https://x/l", "endorser_dn": "/CN=a", "crl": "maybe"}]},
            "crl must be",
        ),
    ],
)
def test_a_wrong_sync_configuration_is_refused_naming_the_option(sync: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"sync": sync}, base=BASE)
