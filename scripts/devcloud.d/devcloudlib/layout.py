"""Where everything of one devcloud lives inside its DIR, and the files kept there."""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Layout:
    dir: Path  # absolute

    # Kept across `down`/`up`: databases, keys, image data and the passwords.
    @property
    def keystone_dir(self) -> Path:
        return self.dir / "keystone"

    @property
    def glance_dir(self) -> Path:
        return self.dir / "glance"

    @property
    def log_dir(self) -> Path:
        return self.dir / "log"

    @property
    def secrets_file(self) -> Path:
        return self.dir / "secrets.json"

    # Outputs, rewritten by every `up` that (re)starts or re-seeds.
    @property
    def state_file(self) -> Path:
        return self.dir / "devcloud.json"

    @property
    def ckos_config(self) -> Path:
        return self.dir / "cloudkeeper-os.toml"

    @property
    def mapping_file(self) -> Path:
        return self.dir / "mapping.json"

    @property
    def openrc(self) -> Path:
        return self.dir / "openrc"

    @property
    def images_dir(self) -> Path:
        return self.dir / "images"  # ckos's [images] local_directories

    def make_dirs(self) -> None:
        for path in (self.log_dir, self.images_dir, self.keystone_dir / "etc", self.glance_dir / "etc"):
            path.mkdir(parents=True, exist_ok=True)
        for name in ("images", "staging", "tasks", "locks"):
            (self.glance_dir / name).mkdir(exist_ok=True)

    def previous_state(self) -> dict[str, Any] | None:
        """devcloud.json of the last successful `up`, or None."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None


@dataclass(frozen=True)
class Passwords:
    admin: str
    ckos: str
    glance: str  # keystonemiddleware's service user in Glance


def load_passwords(layout: Layout) -> Passwords:
    """The passwords made by the first `up` of this DIR (made now if this is it)."""
    try:
        return Passwords(**json.loads(layout.secrets_file.read_text()))
    except FileNotFoundError:
        pass
    passwords = Passwords(*(secrets.token_urlsafe(18) for _ in range(3)))
    write_private(layout.secrets_file, json.dumps(passwords.__dict__, indent=2) + "\n")
    return passwords


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds passwords), replacing it atomically."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as output:
        output.write(text)
    partial.replace(path)


def render(template: str, destination: Path, **values: str) -> None:
    """Fill ${name} placeholders of templates/<template>; a placeholder without a value fails."""
    text = string.Template((TEMPLATES / template).read_text()).substitute(values)
    write_private(destination, text)
