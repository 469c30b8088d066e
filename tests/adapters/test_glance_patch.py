"""Image updates as Glance's JSON patch."""

from __future__ import annotations

import json

from ckos.adapters.glance.patch import image_patch


def test_changes_are_added_and_removals_come_first() -> None:
    patch = json.loads(image_patch({"name": "n", "os_hidden": False, "ad:appid": "1"}, ["B", "A"]))
    assert patch == [
        {"op": "remove", "path": "/A"},
        {"op": "remove", "path": "/B"},
        {"op": "add", "path": "/name", "value": "n"},
        {"op": "add", "path": "/os_hidden", "value": False},
        {"op": "add", "path": "/ad:appid", "value": "1"},
    ]


def test_a_property_both_set_and_removed_is_set() -> None:
    assert json.loads(image_patch({"A": "1"}, ["A"])) == [{"op": "add", "path": "/A", "value": "1"}]


def test_names_are_json_pointer_escaped() -> None:
    assert json.loads(image_patch({"a/b~c": "v"})) == [{"op": "add", "path": "/a~1b~0c", "value": "v"}]
