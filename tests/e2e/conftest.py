"""The real ckos server over a catalog, driven by the core simulator.

`site` is over the in-memory catalog; a test marked `support.site.both_sites` also runs over the
devcloud's real Glance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.devcloud import DevCloud
from support.site import Site, make_glance_site, make_site


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if getattr(request, "param", "memory") == "glance":
        cloud: DevCloud = request.getfixturevalue("devcloud")
        yield from make_glance_site(tmp_path, cloud)
    else:
        yield from make_site(tmp_path)
