"""Signed HEPiX image lists for tests: an offline IGTF-like PKI (support.pki) and AppDB-style lists.

The endorser is the one the recorded fixture lists name (appdb.example.org, issued by the
"TERENA eScience SSL CA 3"), so that the fixture lists can be signed byte for byte as well.

    lists = make_pki(tmp_path)
    content = image_list([entry("ubuntu", data, url, version="1")], created=..., version=...)
    signed = lists.sign(content)                      # detached S/MIME, as AppDB signs
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from support import pki

ENDORSER = "/DC=org/DC=terena/DC=tcs/C=GR/O=Example Research Institute/CN=appdb.example.org"
ISSUER = "/DC=org/DC=terena/DC=tcs/C=NL/ST=Noord-Holland/L=Amsterdam/O=TERENA/CN=TERENA eScience SSL CA 3"
STRANGER = "/DC=org/DC=terena/DC=tcs/C=GR/O=Example Research Institute/CN=someone.example.org"
VO = "vo.example.eu"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
FIXTURE_LISTS = {name: FIXTURES / "imagelists" / f"imagelist_{name}.json" for name in ("v1", "v2", "v3")}


@frozen
class ListPki:
    signer: pki.Identity
    revoked: pki.Identity  # same subject as the signer, revoked by the intermediate's CRL
    stranger: pki.Identity  # another signer of the same CA
    intermediate: pki.Authority
    dirs: Mapping[str, Path]  # "igtf" (CAs and current CRLs), "no-crl", "stale-crl"

    def sign(self, content: bytes, *signers: pki.Identity, detached: bool = True) -> bytes:
        """Signed by `signers` (default: the endorser), the intermediate CA in the signature."""
        chain = [self.intermediate.certificate]
        return pki.sign(content, *(signers or (self.signer,)), extra=chain, detached=detached)


def make_pki(folder: Path) -> ListPki:
    folder.mkdir(parents=True, exist_ok=True)
    root = pki.root(folder, "root", "/DC=org/DC=ckos-tests/CN=ckos tests root CA")
    intermediate = root.intermediate("terena", ISSUER, serial=2)
    signer = intermediate.issue("appdb", ENDORSER, profile="signer", serial=10)
    revoked = intermediate.issue("appdb-revoked", ENDORSER, profile="signer", serial=11)
    stranger = intermediate.issue("stranger", STRANGER, profile="signer", serial=12)
    intermediate.revoke(revoked)
    root_crl, crl = root.crl("root"), intermediate.crl("terena")
    stale = intermediate.crl("terena-stale", expired=True)
    cas = (root.certificate, intermediate.certificate)
    dirs = {
        "igtf": pki.ca_dir(folder / "igtf", *cas, root_crl, crl),
        "no-crl": pki.ca_dir(folder / "no-crl", *cas, root_crl),
        "stale-crl": pki.ca_dir(folder / "stale-crl", *cas, root_crl, stale),
    }
    return ListPki(signer, revoked, stranger, intermediate, dirs)


def entry(
    identifier: str,
    data: bytes,
    uri: str,
    *,
    version: str,
    title: str = "",
    image_format: str = "RAW",
    expires: str = "2099-12-31T00:00:00Z",
    **more: str,
) -> dict[str, str]:
    """An AppDB `hv:image` (all values strings) whose announced checksum and size are data's."""
    return {
        "dc:description": f"{identifier} for the tests",
        "dc:identifier": identifier,
        "ad:mpuri": f"https://appdb.example.org/store/vo/image/{identifier}:{version}/",
        "dc:title": title or f"Image for {identifier}",
        "ad:group": "General group",
        "hv:hypervisor": "KVM",
        "hv:format": image_format,
        "hv:ram_minimum": "1073741824",
        "hv:core_minimum": "1",
        "hv:size": str(len(data)),
        "hv:uri": uri,
        "hv:version": version,
        "dc:date:expires": expires,
        "sl:arch": "x86_64",
        "sl:checksum:sha512": hashlib.sha512(data).hexdigest(),
        "sl:comments": "",
        "sl:os": "Linux",
        "sl:osname": "Ubuntu",
        "sl:osversion": "24.04",
        "ad:appid": "1017",
        **more,
    }


def image_list(
    entries: Sequence[Mapping[str, str]],
    *,
    created: str,
    version: str,
    identifier: str = "5c1e0f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6",
    expires: str = "2499-12-31T22:00:00Z",
    vo: str = VO,
    endorser_dn: str = ENDORSER,
    endorser_ca: str = ISSUER,
) -> bytes:
    """A VO-wide list as AppDB publishes it."""
    body: dict[str, Any] = {
        "dc:date:created": created,
        "dc:date:expires": expires,
        "dc:description": f"This is a VO-wide image list for {vo} VO.",
        "dc:identifier": identifier,
        "dc:source": "https://appdb.egi.eu/",
        "dc:title": f"VO {vo} image list",
        "ad:vo": vo,
        "hv:endorser": {
            "hv:x509": {
                "dc:creator": "EGI Applications Database",
                "hv:ca": endorser_ca,
                "hv:dn": endorser_dn,
                "hv:email": "appdb-support@example.org",
            }
        },
        "hv:images": [{"hv:image": dict(item)} for item in entries],
        "hv:version": version,
    }
    return json.dumps({"hv:imagelist": body}, indent=3).encode()


def disk(seed: str, size: int = 40_000) -> bytes:
    block = hashlib.sha512(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]
