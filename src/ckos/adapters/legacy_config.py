"""The earlier cloudkeeper-os's oslo.config INI file, converted to ckos's TOML configuration.

Pure: text in, text out (the `convert-config` command reads and writes the files). The INI is
read the way oslo.config read it, with its own parser rather than configparser: `=` or `:`
between name and value, matching quotes around a value dropped, an indented line continues the
value above, `[DEFAULT]` exact and other section names in any case, `$$` (or `\\$`) for a
literal `$`. What the earlier daemon would not have started with is refused, as is any option
or section it did not define (oslo.config ignored those silently), each with its line. No
message and no comment ever holds the password.

Two generations are told apart where their meaning differs: the upstream 0.9.x (`tenant`
mapping, `[keystone_authtoken] project_domain_name` for every project) and the IPHC fork
(tags 0.9.10-0.9.12 and its head: `glance_url` or `endpoint_type`, `project` and `domain` in
the mapping, `"Default"` for a VO without a domain, `project_domain_name` ignored).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from enum import Enum

from attrs import frozen

from ckos.adapters.mapping_json import MappingError, RepeatedKeys, no_duplicates, parse_mapping

DEFAULT = "DEFAULT"
AUTH = "keystone_authtoken"
HIDDEN_VALUE = "<not shown: run convert-config with --output FILE to write it>"
# What the earlier daemon used when an option was not set.
OLD_PORT = 50051
OLD_MAPPING_FILE = "/etc/cloudkeeper-os/voms.json"  # upstream 0.9.x
FORK_MAPPING_FILE = "/etc/cloudkeeper-os/mapping.json"  # the fork
OLD_USERNAME = "cloudkeeper"
OLD_DOMAIN = "default"  # user_domain_name and project_domain_name
FORK_PROJECT_DOMAIN = "Default"  # the fork's domain for a VO without "domain"
# The core's image spool, where LOCAL images are (ckos's default).
IMAGE_SPOOL = "/var/spool/cloudkeeper/images"
_WIDTH = 98


class LegacyConfigError(ValueError):
    """The earlier configuration or mapping cannot be converted.

    The message names the file, the line and the option; it never holds the password.
    """


@frozen
class ConvertedConfig:
    toml: str  # the ckos configuration, password included: only for a file of mode 0600
    preview: str  # the same with the password replaced by a placeholder, for a terminal
    mapping_json: str | None  # the converted VO mapping, when the earlier one was given
    notes: tuple[str, ...]  # what changed and needs the admin's attention (no secret in them)


class _Kind(Enum):
    TEXT = "a string"
    BOOL = "true or false"
    PORT = "a port number from 1 to 65535"
    INT = "a whole number"


@frozen
class _Option:
    kind: _Kind
    choices: tuple[str, ...] = ()
    secret: bool = False
    required: bool = False  # must not be empty when given


_TEXT = _Option(_Kind.TEXT)
_BOOL = _Option(_Kind.BOOL)
_INT = _Option(_Kind.INT)
_REQUIRED = _Option(_Kind.TEXT, required=True)

# Every option the earlier daemon registered: its own, the fork's, PR #12's
# (export_custom_properties, min_disk) and oslo.log's.
_OPTIONS: dict[str, dict[str, _Option]] = {
    DEFAULT: {
        "grpc_port": _Option(_Kind.PORT),
        "mapping_file": _REQUIRED,
        "tempdir": _TEXT,
        "image_visibility": _Option(_Kind.TEXT, choices=("public", "private", "shared", "community")),
        "glance_url": _TEXT,
        "endpoint_type": _Option(
            _Kind.TEXT, choices=("public", "internal", "admin", "publicURL", "internalURL", "adminURL")
        ),
        "export_custom_properties": _BOOL,
        "min_disk": _INT,
        # oslo.log
        "debug": _BOOL,
        "verbose": _BOOL,
        "log_config_append": _TEXT,
        "log_date_format": _TEXT,
        "log_file": _TEXT,
        "log_dir": _TEXT,
        "watch_log_file": _BOOL,
        "use_syslog": _BOOL,
        "use_journal": _BOOL,
        "syslog_log_facility": _TEXT,
        "use_json": _BOOL,
        "use_stderr": _BOOL,
        "use_eventlog": _BOOL,
        "log_color": _BOOL,
        "log_rotate_interval": _INT,
        "log_rotate_interval_type": _TEXT,
        "max_logfile_count": _INT,
        "max_logfile_size_mb": _INT,
        "log_rotation_type": _TEXT,
        "logging_context_format_string": _TEXT,
        "logging_default_format_string": _TEXT,
        "logging_debug_format_suffix": _TEXT,
        "logging_exception_prefix": _TEXT,
        "logging_user_identity_format": _TEXT,
        "default_log_levels": _TEXT,
        "publish_errors": _BOOL,
        "instance_format": _TEXT,
        "instance_uuid_format": _TEXT,
        "rate_limit_interval": _INT,
        "rate_limit_burst": _INT,
        "rate_limit_except_level": _TEXT,
        "fatal_deprecations": _BOOL,
    },
    AUTH: {
        "auth_url": _REQUIRED,
        "username": _REQUIRED,
        "password": _Option(_Kind.TEXT, secret=True, required=True),
        "user_domain_name": _REQUIRED,
        "project_domain_name": _REQUIRED,
    },
}
# oslo.log's deprecated names, still read from the file.
_ALIASES = {"logfile": "log_file", "logdir": "log_dir", "log_config": "log_config_append"}
_TRUE = ("true", "1", "on", "yes")  # oslo.config's Boolean
_FALSE = ("false", "0", "off", "no")
_INTERFACES = {"publicURL": "public", "internalURL": "internal", "adminURL": "admin"}
# oslo.config substitutes $name and ${name} (string.Template with its own id pattern).
_SUBSTITUTION = re.compile(r"\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRINTABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

# What ckos does instead of each oslo.log option it has no equivalent for.
_JOURNAL = (
    "ckos logs to stderr, which systemd's journal collects (journalctl -u cloudkeeper-os); rsyslog "
    "(imjournal) or journald's ForwardToSyslog= can copy it to a file or to syslog."
)
_FACILITY = _JOURNAL + " The unit's SyslogFacility= sets the facility."
_ROTATION = "the journal rotates its own files (journald.conf: SystemMaxUse= and others)."
_LAYOUT = 'the layout of a line is fixed: format = "text" or "json".'
_RATES = (
    "the journal limits rates (journald.conf RateLimitIntervalSec=, or the unit's LogRateLimitIntervalSec=)."
)
_LOG_INSTEAD = {
    "log_file": _JOURNAL,
    "log_dir": _JOURNAL,
    "watch_log_file": _JOURNAL,
    "use_syslog": _FACILITY,
    "syslog_log_facility": _FACILITY,
    "use_journal": "under systemd, ckos's stderr goes to the journal: nothing to set.",
    "use_stderr": "ckos always logs to stderr, which the journal collects.",
    "use_eventlog": "Windows only: no equivalent.",
    "log_config_append": "ckos reads no Python logging configuration: level and format are its log settings.",
    "log_date_format": "the journal stamps each line with its own time.",
    "log_rotate_interval": _ROTATION,
    "log_rotate_interval_type": _ROTATION,
    "max_logfile_count": _ROTATION,
    "max_logfile_size_mb": _ROTATION,
    "log_rotation_type": _ROTATION,
    "logging_context_format_string": _LAYOUT,
    "logging_default_format_string": _LAYOUT,
    "logging_debug_format_suffix": _LAYOUT,
    "logging_exception_prefix": _LAYOUT,
    "logging_user_identity_format": _LAYOUT,
    "instance_format": _LAYOUT,
    "instance_uuid_format": _LAYOUT,
    "log_color": _LAYOUT,
    "default_log_levels": "ckos holds the libraries it uses at WARNING, so that no secret reaches the log.",
    "rate_limit_interval": _RATES,
    "rate_limit_burst": _RATES,
    "rate_limit_except_level": _RATES,
    "publish_errors": "ckos sends no notifications; its metrics count failures ([metrics] listen).",
    "fatal_deprecations": "no equivalent: nothing to do.",
}


@frozen
class _Setting:
    section: str
    name: str  # as written (an alias of oslo.log's is kept as written)
    option: str  # its canonical name
    value: str  # after oslo.config's $-substitution
    line: int

    def where(self) -> str:
        return f"line {self.line}: [{self.section}] {self.name}"


class _Settings:
    """The options set in the earlier file, checked against their kinds."""

    def __init__(self, text: str, origin: str) -> None:
        self.origin = origin
        self.sections: dict[str, int] = {}  # section -> line of its first header
        self.values: dict[tuple[str, str], _Setting] = {}
        _parse(text, self)
        for setting in self.values.values():
            self._check(setting, _OPTIONS[setting.section][setting.option])

    def error(self, message: str) -> LegacyConfigError:
        return LegacyConfigError(f"{self.origin}, {message}")

    def get(self, section: str, option: str) -> _Setting | None:
        return self.values.get((section, option))

    def text(self, section: str, option: str, default: str) -> str:
        setting = self.get(section, option)
        return default if setting is None else setting.value

    def flag(self, option: str) -> bool | None:
        setting = self.get(DEFAULT, option)
        return None if setting is None else setting.value.strip().lower() in _TRUE

    def number(self, option: str, default: int) -> int:
        setting = self.get(DEFAULT, option)
        return default if setting is None else int(setting.value.strip())

    def _check(self, setting: _Setting, option: _Option) -> None:
        value = setting.value.strip()
        shown = "" if option.secret else f", not {setting.value!r}"
        if option.kind is _Kind.BOOL and value.lower() not in _TRUE + _FALSE:
            raise self.error(f"{setting.where()}: must be {option.kind.value}{shown}")
        if option.kind in (_Kind.INT, _Kind.PORT) and not re.fullmatch(r"[+-]?[0-9]+", value):
            raise self.error(f"{setting.where()}: must be {option.kind.value}{shown}")
        if option.kind is _Kind.PORT and not 0 < int(value) < 65536:
            reason = " (0, any free port, cannot be given to the core)" if int(value) == 0 else ""
            raise self.error(f"{setting.where()}: must be {option.kind.value}{shown}{reason}")
        if option.required and not value:
            raise self.error(f"{setting.where()}: is empty")
        if option.choices and setting.value not in option.choices:
            raise self.error(f"{setting.where()}: must be one of {', '.join(option.choices)}{shown}")

    def required(self, section: str, option: str, meaning: str) -> str:
        setting = self.get(section, option)
        if setting is not None:
            return setting.value
        header = self.sections.get(section)
        where = f"the section starting at line {header}" if header else f"no [{section}] section"
        raise self.error(f"[{section}] {option} is not set ({where}): it is required, {meaning}")


def _parse(text: str, settings: _Settings) -> None:
    """oslo.config's INI parser (oslo_config.iniparser), keeping each option's line."""
    section: str | None = None
    pending: tuple[int, str, list[str]] | None = None  # line, name as written, value lines

    def flush() -> None:
        if pending is not None and section is not None:
            _assign(settings, section, *pending)

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line:
            flush()
            pending = None
            continue
        if line[0] in " \t":
            if pending is None:
                raise settings.error(
                    f"line {number}: an indented line continues a value, but no option precedes it"
                )
            pending[2].append(line.lstrip())
            continue
        flush()
        pending = None
        if line.startswith("["):
            section = _section(line, number, settings)
        elif not line.startswith(("#", ";")):
            pending = _assignment(line, number, section, settings)
    flush()


def _section(line: str, number: int, settings: _Settings) -> str:
    if not line.endswith("]"):
        raise settings.error(f"line {number}: a section header must end with ']'")
    name = line[1:-1]
    normalized = name if name == DEFAULT else name.lower()  # as oslo.config normalizes groups
    if normalized not in _OPTIONS:
        shown = f"[{name}]" if _PRINTABLE_NAME.fullmatch(name) else "section"
        raise settings.error(
            f"line {number}: unknown {shown}: the earlier cloudkeeper-os read [{DEFAULT}] and [{AUTH}] only"
        )
    settings.sections.setdefault(normalized, number)
    return normalized


def _assignment(
    line: str, number: int, section: str | None, settings: _Settings
) -> tuple[int, str, list[str]]:
    colon, equal = line.find(":"), line.find("=")
    if colon < 0 and equal < 0:
        # The line is not shown: it might be a password written on a line of its own.
        raise settings.error(f"line {number}: not an INI line (name = value, [section] or # comment)")
    cut = equal if colon < 0 or 0 <= equal < colon else colon
    name, value = line[:cut].strip(), line[cut + 1 :].strip()
    if not name:
        raise settings.error(f"line {number}: an option without a name")
    if section is None:
        raise settings.error(f"line {number}: an option before any [section] header")
    if value and value[0] == value[-1] and value[0] in "\"'" and len(value) > 1:
        value = value[1:-1]
    return number, name, [value]


def _assign(settings: _Settings, section: str, number: int, name: str, lines: list[str]) -> None:
    option = _ALIASES.get(name, name) if section == DEFAULT else name
    known = _OPTIONS[section].get(option)
    if known is None:
        shown = name if _PRINTABLE_NAME.fullmatch(name) else "an option"
        other = next((other for other in _OPTIONS if other != section and option in _OPTIONS[other]), None)
        hint = (
            f"it belongs in [{other}]"
            if other
            else "neither the earlier cloudkeeper-os nor oslo.log defined it (comment it out with #)"
        )
        raise settings.error(f"line {number}: [{section}] {shown}: unknown option: {hint}")
    earlier = settings.values.get((section, option))
    if earlier is not None:
        raise settings.error(
            f"line {number}: [{section}] {name}: set again (first at line {earlier.line}): keep one of them"
        )
    where = f"line {number}: [{section}] {name}"
    value = _substitute("\n".join(lines), where, known.secret, settings)
    settings.values[(section, option)] = _Setting(section, name, option, value, number)


def _substitute(value: str, where: str, secret: bool, settings: _Settings) -> str:
    """oslo.config's $-substitution: `$$` and `\\$` are `$`; a reference to another option is refused."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        reference = "" if secret else f" (${match.group(2) or match.group(3)})"
        raise settings.error(
            f"{where}: refers to another option{reference}, which oslo.config substituted: "
            "write the value out (a literal $ is written $$)"
        )

    return _SUBSTITUTION.sub(replace, value.replace("\\$", "$$"))


def convert_legacy_config(
    text: str,
    *,
    origin: str,
    mapping_text: str | None = None,
    mapping_origin: str = "the mapping",
    mapping_file: str = "cloudkeeper-os.mapping.json",
) -> ConvertedConfig:
    """Convert the earlier INI configuration (and its VO mapping, when given) to ckos's TOML.

    origin names the INI file in messages; with mapping_text (the earlier voms.json), the
    mapping is converted with each VO's domain filled in and `[mapping] file` names
    mapping_file, which the caller writes next to the TOML file (relative paths in the TOML
    file are taken from its folder). Raises LegacyConfigError for what cannot be converted.
    """
    settings = _Settings(text, origin)
    auth_url = settings.required(AUTH, "auth_url", "the Keystone v3 URL")
    settings.required(AUTH, "password", "the password of the service user")
    notes: list[str] = []
    mapping = None
    if mapping_text is not None:
        mapping = _convert_mapping(mapping_text, mapping_origin, settings, notes)
    fork = _is_fork(settings, mapping)
    parts = _Parts(settings, notes, fork)
    sections = [
        parts.header(),
        parts.server(),
        parts.mapping(mapping, mapping_origin, mapping_file),
        parts.images(),
        parts.glance(),
        parts.openstack(auth_url),
        parts.logging(),
    ]
    mapping_json = None if mapping is None else mapping.json
    preview = [*sections]
    if mapping_json is not None:
        preview.append(_mapping_preview(mapping_json, mapping_file))
    return ConvertedConfig(
        toml=_join(sections).replace(_HIDDEN_MARK, _quote(settings.text(AUTH, "password", ""))),
        preview=_join(preview).replace(_HIDDEN_MARK, _quote(HIDDEN_VALUE)),
        mapping_json=mapping_json,
        notes=tuple(notes),
    )


_HIDDEN_MARK = "\x00password\x00"  # cannot occur in the rendered text: control characters are escaped


@frozen
class _Mapping:
    json: str
    fork: bool  # written in the fork's shape (project or domain keys)
    domain_note: str  # how the domains were filled in


def _is_fork(settings: _Settings, mapping: _Mapping | None) -> bool:
    in_ini = any(settings.get(DEFAULT, option) for option in ("glance_url", "endpoint_type"))
    return in_ini or (mapping is not None and mapping.fork)


def _convert_mapping(text: str, origin: str, settings: _Settings, notes: list[str]) -> _Mapping:
    def error(message: str) -> LegacyConfigError:
        return LegacyConfigError(f"{origin}: {message}")

    try:
        raw = json.loads(text, object_pairs_hook=no_duplicates)
    except RepeatedKeys as repeated:
        raise error(f"{repeated} given more than once") from None
    except json.JSONDecodeError as decode:
        raise error(f"line {decode.lineno}, column {decode.colno}: not valid JSON: {decode.msg}") from None
    if not isinstance(raw, dict) or not raw:
        raise error('must be a JSON object mapping each VO, like {"<vo>": {"tenant": "<project>"}}')
    entries: dict[str, dict[str, object]] = {}
    for vo, entry in raw.items():
        if not isinstance(entry, dict):
            raise error(f'VO {vo!r}: must be an object like {{"tenant": "<project>"}}')
        entries[vo] = entry
    fork_keys = any("project" in entry or "domain" in entry for entry in entries.values())
    fork = fork_keys or any(settings.get(DEFAULT, option) for option in ("glance_url", "endpoint_type"))
    default_domain, domain_note = _default_domain(settings, fork)
    converted: dict[str, dict[str, str]] = {}
    for vo, entry in entries.items():
        converted[vo] = _convert_entry(vo, entry, default_domain, error)
        dropped = sorted(set(entry) - {"tenant", "project", "domain"})
        if dropped:
            notes.append(
                f"{origin}: VO {vo!r}: {', '.join(dropped)} dropped (the earlier cloudkeeper-os ignored "
                "them; ckos refuses keys it does not know)"
            )
    result = json.dumps(converted, indent=2, ensure_ascii=False) + "\n"
    try:
        parse_mapping(result, origin=origin)
    except MappingError as invalid:
        raise LegacyConfigError(str(invalid)) from None
    return _Mapping(json=result, fork=fork_keys, domain_note=domain_note)


def _default_domain(settings: _Settings, fork: bool) -> tuple[str, str]:
    """The domain of a VO's project when its entry has none, and how it was chosen."""
    setting = settings.get(AUTH, "project_domain_name")
    if fork:
        note = f'"{FORK_PROJECT_DOMAIN}" for a VO without "domain", as the fork did'
        if setting is not None:
            note += f" (it ignored project_domain_name, line {setting.line})"
        return FORK_PROJECT_DOMAIN, note
    if setting is not None:
        return setting.value, f"project_domain_name = {_quote(setting.value)} (line {setting.line})"
    return OLD_DOMAIN, f'"{OLD_DOMAIN}", the default of project_domain_name: Keystone\'s default domain'


def _convert_entry(
    vo: str, entry: dict[str, object], default_domain: str, error: Callable[[str], LegacyConfigError]
) -> dict[str, str]:
    key = "project" if "project" in entry else "tenant" if "tenant" in entry else None
    if key is None:
        raise error(f'VO {vo!r}: names no project ("tenant" or "project")')
    project, domain = entry[key], entry.get("domain", default_domain)
    if not isinstance(project, str) or not project.strip():
        raise error(f"VO {vo!r}: {key} must be a non-empty string")
    if not isinstance(domain, str) or not domain.strip():
        raise error(f"VO {vo!r}: domain must be a non-empty string")
    return {"project": project.strip(), "domain": domain.strip()}


class _Parts:
    """The sections of the TOML file, each a list of lines; comments say what changed."""

    def __init__(self, settings: _Settings, notes: list[str], fork: bool) -> None:
        self.settings = settings
        self.notes = notes
        self.fork = fork

    def earlier(self, setting: _Setting) -> str:
        text = _OPTIONS[setting.section][setting.option].kind is _Kind.TEXT
        value = _quote(setting.value) if text else setting.value.strip()  # a checked number or boolean
        return f"{setting.name} = {value} (line {setting.line})"

    def header(self) -> list[str]:
        return _comment(
            "cloudkeeper-os (ckos) configuration, converted by `cloudkeeper-os convert-config` from "
            f"{self.settings.origin}, the earlier cloudkeeper-os's configuration. Comments starting with "
            '"Earlier:" say what the earlier option was and what changed. An option not written here takes '
            "its default: the sample configuration (config/cloudkeeper-os.toml) shows every option."
        )

    def server(self) -> list[str]:
        port_setting = self.settings.get(DEFAULT, "grpc_port")
        port = self.settings.number("grpc_port", OLD_PORT)
        given = self.earlier(port_setting) if port_setting else f"grpc_port not set, its default {OLD_PORT}"
        self.notes.append(
            "the earlier daemon listened on every interface, in plain text; ckos listens on "
            f"127.0.0.1:{port} only: see [server] in the output if the core runs on another host"
        )
        return [
            "[server]",
            *_comment(
                f"Earlier: {given}. The earlier daemon listened on every interface ([::]) in plain text, "
                "without authenticating the core: any host that reached the port could drive it. ckos "
                "serves plain text on the loopback address only, for a core on this host. For a core "
                "on another host, turn on TLS: set certificate, key and client_ca in [server.tls] "
                "(below) and `authentication: true` in the core's cloudkeeper.yml, then listen on the "
                f'address the core dials, e.g. listen = "0.0.0.0:{port}".'
            ),
            f"listen = {_quote(f'127.0.0.1:{port}')}",
            *_comment(
                'Earlier: cloudkeeper-os 0.9.x spoke the core 1.x protocol only. Keep "core-1" while '
                'the site\'s core is a 1.x release; set "core-2.0" once it runs the core 2.x.'
            ),
            'protocol = "core-1"',
            "",
            "# [server.tls]",
            '# certificate = "/etc/cloudkeeper-os/tls/backend-chain.pem"  # then intermediates',
            '# key = "/etc/cloudkeeper-os/tls/backend.key"',
            '# client_ca = "/etc/cloudkeeper-os/tls/core-ca.pem"  # the CA of the core\'s certificate',
        ]

    def mapping(self, mapping: _Mapping | None, mapping_origin: str, mapping_file: str) -> list[str]:
        setting = self.settings.get(DEFAULT, "mapping_file")
        default = FORK_MAPPING_FILE if self.fork else OLD_MAPPING_FILE
        given = self.earlier(setting) if setting else f"mapping_file not set, its default {default}"
        lines = ["[mapping]"]
        if mapping is not None:
            lines += _comment(
                f"Earlier: {given}. Converted from {mapping_origin} to ckos's shape, each VO with the "
                f"domain of its project ({mapping.domain_note}), and written as {mapping_file} next to "
                "this file (relative paths are taken from this file's folder). `systemctl reload "
                "cloudkeeper-os` reads it again."
            )
            return [*lines, f"file = {_quote(mapping_file)}"]
        path = self.settings.text(DEFAULT, "mapping_file", default)
        lines += _comment(
            f"Earlier: {given}. ckos reads the same file as it is (it accepts the tenant shape too); "
            "`systemctl reload cloudkeeper-os` reads it again."
        )
        if not path.startswith("/"):
            lines += _comment(
                "This path is relative: the earlier daemon took it from its working directory, ckos "
                "takes it from this file's folder."
            )
        lines += self._domain_left_out()
        return [*lines, f"file = {_quote(path)}"]

    def _domain_left_out(self) -> list[str]:
        setting = self.settings.get(AUTH, "project_domain_name")
        if setting is None or setting.value.strip().lower() == OLD_DOMAIN:
            return []  # ckos's default for a VO without "domain" is the default domain too
        if self.fork:
            return _comment(
                f"Earlier: {self.earlier(setting)} in [{AUTH}], which the fork ignored (a VO without "
                f'"domain" was in "{FORK_PROJECT_DOMAIN}"); ckos does the same.'
            )
        self.notes.append(
            f"{setting.where()} is not carried over: ckos takes each VO's domain from the mapping; run "
            "convert-config again with --mapping MAPPING.json to fill it in"
        )
        return _comment(
            f"Earlier: {self.earlier(setting)} in [{AUTH}]: the domain of every mapped project. ckos "
            'reads it per VO from the mapping ("domain"), Keystone\'s default domain when absent: '
            "run convert-config again with --mapping MAPPING.json to fill it in."
        )

    def images(self) -> list[str]:
        lines = ["[images]"]
        tempdir = self.settings.get(DEFAULT, "tempdir")
        if tempdir is not None:
            lines += _comment(
                f"Earlier: {self.earlier(tempdir)}: gone. ckos streams each image into Glance, from "
                "the core's spool or from its server, verifying it on the way: no temporary copy."
            )
        lines += _comment(
            "Earlier: the daemon read a LOCAL image from any path the core sent. ckos reads only "
            "inside these directories: list the core's image directory."
        )
        return [*lines, f"local_directories = [{_quote(IMAGE_SPOOL)}]"]

    def glance(self) -> list[str]:
        visibility = self.settings.get(DEFAULT, "image_visibility")
        lines = [
            "[glance]",
            *_comment(
                "ckos manages only the images that carry this tag; the earlier daemon tagged none: run "
                "`cloudkeeper-os migrate --apply` once to adopt its images."
            ),
            'tag = "cloudkeeper-os"',
        ]
        if visibility is not None:
            lines += _comment(f"Earlier: {self.earlier(visibility)}.")
        lines.append(f"visibility = {_quote(visibility.value if visibility else 'private')}")
        export = self.settings.get(DEFAULT, "export_custom_properties")
        if export is not None:
            lines += _comment(
                f"Earlier: {self.earlier(export)}: gone. ckos always writes the appliance's properties "
                "(APPLIANCE_*, and os_distro, os_version, architecture where known): they are how it "
                "recognises its images, and what the EGI information system reads."
            )
        min_disk = self.settings.get(DEFAULT, "min_disk")
        if min_disk is not None:
            lines += _comment(f"Earlier: {self.earlier(min_disk)}: not supported, ckos sets no min_disk.")
        return lines

    def openstack(self, auth_url: str) -> list[str]:
        username = self.settings.get(AUTH, "username")
        domain = self.settings.get(AUTH, "user_domain_name")
        lines = ["[openstack]", f"auth_url = {_quote(auth_url)}"]
        if username is None:
            lines += _comment(f'Earlier: username not set, its default "{OLD_USERNAME}".')
        lines += [
            f"username = {_quote(username.value if username else OLD_USERNAME)}",
            f"password = {_HIDDEN_MARK}",
        ]
        if domain is None:
            lines += _comment(f'Earlier: user_domain_name not set, its default "{OLD_DOMAIN}".')
        lines.append(f"user_domain_name = {_quote(domain.value if domain else OLD_DOMAIN)}")
        lines += self._interface()
        lines += _comment(
            "Earlier: the daemon did not verify Keystone's and Glance's TLS certificates. ckos does: "
            'if they are signed by a CA this host does not trust, set ca_bundle = "/path/to/ca.pem" '
            "(verify = false would do as the earlier daemon did: not recommended)."
        )
        return [*lines, "verify = true"]

    def _interface(self) -> list[str]:
        lines: list[str] = []
        glance_url = self.settings.get(DEFAULT, "glance_url")
        if glance_url is not None:
            lines += _comment(
                f"Earlier: {self.earlier(glance_url)} in [{DEFAULT}]: a Glance endpoint overriding the "
                "catalog's."
            )
            lines.append(f"glance_endpoint = {_quote(glance_url.value)}")
        endpoint_type = self.settings.get(DEFAULT, "endpoint_type")
        if endpoint_type is None:
            lines += _comment("Earlier: endpoint_type not set: the catalog's public endpoint.")
            return [*lines, 'interface = "public"']
        interface = _INTERFACES.get(endpoint_type.value, endpoint_type.value)
        lines += _comment(f"Earlier: {self.earlier(endpoint_type)} in [{DEFAULT}].")
        return [*lines, f"interface = {_quote(interface)}"]

    def logging(self) -> list[str]:
        lines = ["[logging]"]
        debug, verbose = self.settings.flag("debug"), self.settings.flag("verbose")
        level = "DEBUG" if debug else "WARNING" if verbose is False else "INFO"
        for option in ("debug", "verbose"):
            setting = self.settings.get(DEFAULT, option)
            if setting is not None:
                lines += _comment(f"Earlier: {self.earlier(setting)}.")
        lines.append(f"level = {_quote(level)}")
        use_json = self.settings.get(DEFAULT, "use_json")
        if use_json is not None:
            lines += _comment(f"Earlier: {self.earlier(use_json)}.")
        lines.append(f'format = "{"json" if self.settings.flag("use_json") else "text"}"')
        # One comment per explanation, naming every option it answers.
        grouped: dict[str, list[str]] = {}
        for (section, option), setting in self.settings.values.items():
            if section == DEFAULT and option in _LOG_INSTEAD:
                grouped.setdefault(_LOG_INSTEAD[option], []).append(self.earlier(setting))
        for instead, earlier in grouped.items():
            lines += _comment(f"Earlier: {'; '.join(earlier)}: {instead}")
        return lines


def _mapping_preview(mapping_json: str, mapping_file: str) -> list[str]:
    return [
        *_comment(
            f"The converted VO mapping, which --output FILE writes as {mapping_file} next to FILE "
            "(nothing is written without --output):"
        ),
        *(f"#   {line}" for line in mapping_json.splitlines()),
    ]


def _comment(text: str) -> list[str]:
    clean = _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04X}", text)  # e.g. in a file name
    return [
        f"# {line}" for line in textwrap.wrap(clean, _WIDTH, break_long_words=False, break_on_hyphens=False)
    ]


def _join(sections: list[list[str]]) -> str:
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def _quote(value: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped."""
    escaped = []
    for char in value:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'
