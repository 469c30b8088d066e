"""The earlier cloudkeeper-os's INI converted to ckos's TOML: meaning kept, changes explained.

Fixtures in tests/fixtures/legacy/ are the earlier tool's own samples, verbatim:
`cloudkeeper-os.conf.sample` and `voms.json.sample` from the-cloudkeeper-project/cloudkeeper-os
tag 0.9.9 (etc/cloudkeeper-os/), `fork-cloudkeeper-os.conf.sample` and `fork-mapping.json.sample`
from the IPHC fork's head (Pansanel/cloudkeeper-os, `a4f2111` and later).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomli

from ckos.adapters.legacy_config import (
    HIDDEN_VALUE,
    ConvertedConfig,
    LegacyConfigError,
    convert_legacy_config,
)
from ckos.adapters.mapping_json import parse_mapping
from ckos.config import Settings, parse
from ckos.domain.model import ProjectRef

FIXTURES = Path(__file__).parent.parent / "fixtures" / "legacy"
SAMPLE = (FIXTURES / "cloudkeeper-os.conf.sample").read_text(encoding="utf-8")
FORK_SAMPLE = (FIXTURES / "fork-cloudkeeper-os.conf.sample").read_text(encoding="utf-8")
VOMS = (FIXTURES / "voms.json.sample").read_text(encoding="utf-8")
FORK_MAPPING = (FIXTURES / "fork-mapping.json.sample").read_text(encoding="utf-8")
PASSWORD = 'Tr0ub4dor&3 "x" \\y'
KEYSTONE = "https://keystone.example.org:5000/v3"
# The edit the earlier README asks for: username, password and auth_url in [keystone_authtoken].
README_EDIT = f"username = cloudkeeper\npassword = {PASSWORD}\nauth_url = {KEYSTONE}\n"


def edited(sample: str, *replacements: tuple[str, str]) -> str:
    """The sample with the README's edit appended, and lines replaced (each must be found)."""
    for old, new in replacements:
        assert old in sample, old
        sample = sample.replace(old, new)
    return sample + README_EDIT


def settings_of(toml: str) -> Settings:
    return parse(tomli.loads(toml), base=Path("/etc/cloudkeeper-os"), origin="converted")


def convert(text: str, **mapping: str) -> ConvertedConfig:
    return convert_legacy_config(text, origin="old.conf", **mapping)


def prose(toml: str) -> str:
    """The text with its comments unwrapped, to find a sentence whatever the line breaks."""
    return " ".join(line.removeprefix("# ") for line in toml.splitlines())


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_the_sample_as_shipped_is_refused_for_want_of_keystone() -> None:
    with pytest.raises(LegacyConfigError) as refused:
        convert(SAMPLE)
    line = line_of(SAMPLE, "[keystone_authtoken]")
    assert str(refused.value) == (
        f"old.conf, [keystone_authtoken] auth_url is not set (the section starting at line {line}): "
        "it is required, the Keystone v3 URL"
    )


def test_the_sample_edited_as_its_readme_says_means_the_same_in_ckos() -> None:
    converted = convert(edited(SAMPLE))
    settings = settings_of(converted.toml)
    assert settings.server.listen == "127.0.0.1:50051"
    assert settings.server.protocol == "core-1"  # 0.9.x spoke the core 1.x only
    assert settings.server.tls.certificate is None
    assert settings.mapping.file == Path("/etc/cloudkeeper-os/voms.json")  # 0.9.9's default
    assert settings.glance.visibility == "private"
    openstack = settings.openstack
    assert (openstack.auth_url, openstack.username, openstack.password) == (KEYSTONE, "cloudkeeper", PASSWORD)
    assert openstack.user_domain_name == "default"  # the earlier default, as it was sent to Keystone
    assert (openstack.interface, openstack.verify) == ("public", True)
    assert (settings.logging.level, settings.logging.format) == ("INFO", "text")
    assert settings.images.local_directories == (Path("/var/spool/cloudkeeper/images"),)
    assert converted.mapping_json is None


def test_plain_text_on_every_interface_becomes_loopback_with_the_way_to_tls() -> None:
    converted = convert(edited(SAMPLE, ("#grpc_port = 50051", "grpc_port = 50505")))
    assert settings_of(converted.toml).server.listen == "127.0.0.1:50505"
    server = prose(converted.toml.split("[server]")[1].split("[mapping]")[0])
    assert "grpc_port = 50505 (line 10)" in server
    assert "listened on every interface ([::]) in plain text" in server
    assert "[server.tls]" in server
    assert "authentication: true" in server
    assert "\n# certificate = " in converted.toml  # commented out: TLS is off
    assert any("127.0.0.1:50505" in note for note in converted.notes)


def test_tempdir_and_export_custom_properties_are_gone_with_a_reason() -> None:
    text = (
        edited(SAMPLE, ("#tempdir = /tmp", "tempdir = /var/tmp/ck"))
        + "[DEFAULT]\nexport_custom_properties = false\n"
    )
    toml = convert(text).toml
    assert re.search(r'tempdir = "/var/tmp/ck" \(line 16\): gone\. ckos streams', toml)
    assert "no temporary copy" in toml
    assert "export_custom_properties = false (line" in toml
    assert "ckos always writes the appliance's properties" in prose(toml)


def test_the_password_is_in_the_file_and_hidden_in_the_preview() -> None:
    converted = convert(edited(SAMPLE))
    assert PASSWORD not in converted.preview
    assert settings_of(converted.preview).openstack.password == HIDDEN_VALUE
    assert settings_of(converted.toml).openstack.password == PASSWORD
    assert converted.toml.count("password") == converted.preview.count("password")
    assert all(PASSWORD not in note for note in converted.notes)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ('"quoted value"', "quoted value"),  # oslo.config drops matching quotes
        ("'single'", "single"),
        ("pa$$word", "pa$word"),  # $$ is a literal $
        ("pa\\$word", "pa$word"),
        ("50$ or more", "50$ or more"),  # not a reference: left as it is
        ("a = b: c", "a = b: c"),
    ],
)
def test_values_are_read_as_oslo_config_read_them(written: str, meant: str) -> None:
    text = f"[keystone_authtoken]\nauth_url = {KEYSTONE}\npassword = {written}\n"
    assert settings_of(convert(text).toml).openstack.password == meant


def test_an_indented_line_continues_the_value_and_colon_separates_too() -> None:
    text = (
        f"[keystone_authtoken]\nauth_url: {KEYSTONE}\npassword = first\n  second\n\n"
        "[Keystone_AuthToken]\nusername=u\n"
    )
    settings = settings_of(convert(text).toml)
    assert settings.openstack.auth_url == KEYSTONE
    assert settings.openstack.password == "first\nsecond"
    assert settings.openstack.username == "u"


def test_control_characters_and_quotes_make_valid_toml() -> None:
    password = 'a"b\\c\td\x7fe\x01f'
    text = f"[DEFAULT]\nlog_file = /x\x7f.log\n[keystone_authtoken]\nauth_url = {KEYSTONE}\n"
    text += f"password = {password}\n"
    converted = convert(text)
    assert settings_of(converted.toml).openstack.password == password
    assert "\x7f" not in converted.toml


def test_debug_and_the_oslo_log_options() -> None:
    text = edited(
        SAMPLE,
        ("#debug = false", "debug = true"),
        ("#log_file = <None>", "logfile = /var/log/cloudkeeper-os/cloudkeeper-os.log"),
        ("#use_syslog = false", "use_syslog = true"),
        ("#syslog_log_facility = LOG_USER", "syslog_log_facility = LOG_LOCAL0"),
        ("#default_log_levels = amqp=WARN", "default_log_levels = amqp=WARN"),
        ("#use_stderr = true", "use_stderr = false"),
    )
    toml = convert(text).toml
    settings = settings_of(toml)
    assert (settings.logging.level, settings.logging.format) == ("DEBUG", "text")
    logging = prose(toml.split("[logging]")[1])
    assert "debug = true (line" in logging
    assert 'logfile = "/var/log/cloudkeeper-os/cloudkeeper-os.log" (line' in logging
    assert "ckos logs to stderr, which systemd's journal collects" in logging
    assert 'use_syslog = true (line 73); syslog_log_facility = "LOG_LOCAL0" (line 77):' in logging
    assert "SyslogFacility=" in logging
    assert "default_log_levels" in logging
    assert "use_stderr = false" in logging


@pytest.mark.parametrize(
    ("options", "level", "log_format"),
    [
        ("use_json = true\n", "INFO", "json"),
        ("verbose = false\n", "WARNING", "text"),  # oslo.log: WARNING instead of INFO
        ("verbose = false\ndebug = True\n", "DEBUG", "text"),
        ("debug = off\nuse_json = 0\n", "INFO", "text"),
        ("use_journal = yes\nlog_dir = /var/log\nlog_rotation_type = size\n", "INFO", "text"),
    ],
)
def test_logging_level_and_format(options: str, level: str, log_format: str) -> None:
    text = f"[DEFAULT]\n{options}[keystone_authtoken]\nauth_url = {KEYSTONE}\npassword = p\n"
    toml = convert(text).toml
    assert (settings_of(toml).logging.level, settings_of(toml).logging.format) == (level, log_format)
    for option in options.splitlines():
        assert f"{option.split(' = ')[0]} = " in toml.split("[logging]")[1]


def test_every_option_of_the_fork_sample_is_known() -> None:
    """Each `#name = default` line of the fork's sample (oslo-config-generator's) uncommented."""
    lines = [
        line[1:] if re.match(r"#[a-z_]+ = ", line) and "<None>" not in line else line
        for line in FORK_SAMPLE.splitlines()
    ]
    converted = convert("\n".join(lines) + f"\npassword = p\nauth_url = {KEYSTONE}\n")
    settings = settings_of(converted.toml)
    assert settings.mapping.file == Path("/etc/cloudkeeper-os/mapping.json")
    assert settings.logging.level == "INFO"
    # Every oslo.log option set is answered in a comment.
    assert "rate_limit_burst = 0 (line" in converted.toml
    assert "instance_uuid_format" in converted.toml


@pytest.mark.parametrize(
    ("endpoint_type", "interface"),
    [("internal", "internal"), ("public", "public"), ("internalURL", "internal"), ("adminURL", "admin")],
)
def test_the_fork_s_endpoint_type_is_the_interface(endpoint_type: str, interface: str) -> None:
    text = edited(FORK_SAMPLE, ("#endpoint_type = <None>", f"endpoint_type = {endpoint_type}"))
    assert settings_of(convert(text).toml).openstack.interface == interface


def test_the_fork_s_glance_url_is_the_glance_endpoint() -> None:
    text = f"[DEFAULT]\nglance_url = http://controller:9292\n[keystone_authtoken]\n{README_EDIT}"
    converted = convert(text)
    assert 'glance_url = "http://controller:9292" (line 2)' in converted.toml
    assert settings_of(converted.toml).openstack.glance_endpoint == "http://controller:9292"
    assert settings_of(converted.toml).openstack.interface == "public"


def test_the_upstream_mapping_gets_project_domain_name() -> None:
    text = edited(SAMPLE, ("#project_domain_name = default", "project_domain_name = egi"))
    converted = convert(text, mapping_text=VOMS, mapping_origin="voms.json", mapping_file="ckos.mapping.json")
    assert converted.mapping_json is not None
    assert json.loads(converted.mapping_json) == {
        "dteam": {"project": "EGI_dteam", "domain": "egi"},
        "ops": {"project": "EGI_ops", "domain": "egi"},
    }
    mapping = parse_mapping(converted.mapping_json, origin="converted")
    assert mapping.project_for("dteam") == ProjectRef(name="EGI_dteam", domain="egi")
    assert settings_of(converted.toml).mapping.file == Path("/etc/cloudkeeper-os/ckos.mapping.json")
    comment = prose(converted.toml.split("[mapping]")[1].split("[images]")[0])
    assert "Converted from voms.json" in comment
    assert 'project_domain_name = "egi" (line' in comment
    assert "written as ckos.mapping.json next to this file" in comment
    # The preview shows the mapping in comments; the file alone is the TOML.
    assert '#     "dteam": {' in converted.preview
    assert '"dteam"' not in converted.toml


def test_without_project_domain_name_the_default_domain_is_filled_in() -> None:
    converted = convert(edited(SAMPLE), mapping_text=VOMS, mapping_origin="voms.json")
    assert converted.mapping_json is not None
    assert {entry["domain"] for entry in json.loads(converted.mapping_json).values()} == {"default"}


def test_the_fork_s_mapping_keeps_its_domains_and_defaults_to_Default() -> None:
    mapping = '{"a": {"project": "pa", "domain": "egi"}, "b": {"tenant": "pb"}, "c": {"project": "pc"}}'
    text = edited(SAMPLE, ("#project_domain_name = default", "project_domain_name = ignored"))
    converted = convert(text, mapping_text=mapping, mapping_origin="mapping.json")
    assert converted.mapping_json is not None
    assert json.loads(converted.mapping_json) == {
        "a": {"project": "pa", "domain": "egi"},
        "b": {"project": "pb", "domain": "Default"},  # the fork ignored project_domain_name
        "c": {"project": "pc", "domain": "Default"},
    }
    assert "it ignored project_domain_name" in prose(converted.toml)
    fork = convert(edited(FORK_SAMPLE), mapping_text=FORK_MAPPING, mapping_origin="mapping.json")
    assert fork.mapping_json is not None
    assert json.loads(fork.mapping_json)["dteam"] == {"project": "EGI_dteam", "domain": "Default"}


def test_keys_the_earlier_tool_ignored_are_dropped_with_a_note() -> None:
    mapping = '{"vo": {"tenant": "p", "comment": "x"}}'
    converted = convert(edited(SAMPLE), mapping_text=mapping, mapping_origin="voms.json")
    assert converted.mapping_json is not None
    assert json.loads(converted.mapping_json) == {"vo": {"project": "p", "domain": "default"}}
    assert any("'vo': comment dropped" in note for note in converted.notes)


def test_without_the_mapping_a_project_domain_name_is_pointed_out() -> None:
    converted = convert(edited(SAMPLE, ("#project_domain_name = default", "project_domain_name = egi")))
    assert any("project_domain_name is not carried over" in note for note in converted.notes)
    assert "--mapping" in converted.toml.split("[mapping]")[1].split("[images]")[0]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("{", "voms.json: line 1, column 2: not valid JSON"),
        ("[]", "must be a JSON object mapping each VO"),
        ("{}", "must be a JSON object mapping each VO"),
        ('{"vo": "p"}', "VO 'vo': must be an object"),
        ('{"vo": {"domain": "d"}}', "VO 'vo': names no project"),
        ('{"vo": {"tenant": ""}}', "VO 'vo': tenant must be a non-empty string"),
        ('{"vo": {"tenant": "p", "domain": 1}}', "VO 'vo': domain must be a non-empty string"),
        ('{"vo": {"tenant": "p"}, "vo": {"tenant": "q"}}', "voms.json: 'vo' given more than once"),
    ],
)
def test_a_broken_mapping_is_refused(mapping: str, message: str) -> None:
    with pytest.raises(LegacyConfigError, match=re.escape(message)):
        convert(edited(SAMPLE), mapping_text=mapping, mapping_origin="voms.json")


GOOD = f"[DEFAULT]\ntempdir = /tmp\n[keystone_authtoken]\nauth_url = {KEYSTONE}\npassword = {PASSWORD}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[DEFAULT]\ngrpc_port = abc\n",
            "line 2: [DEFAULT] grpc_port: must be a port number from 1 to 65535, not 'abc'",
        ),
        ("[DEFAULT]\ngrpc_port = 0\n", "line 2: [DEFAULT] grpc_port: must be a port number from 1 to 65535"),
        ("[DEFAULT]\ngrpc_port = 70000\n", "line 2: [DEFAULT] grpc_port: must be a port number"),
        ("[DEFAULT]\n\ndebug = maybe\n", "line 3: [DEFAULT] debug: must be true or false, not 'maybe'"),
        (
            "[DEFAULT]\nmax_logfile_count = many\n",
            "line 2: [DEFAULT] max_logfile_count: must be a whole number",
        ),
        (
            "[DEFAULT]\nimage_visibility = Public\n",
            "line 2: [DEFAULT] image_visibility: must be one of public, private",
        ),
        ("[DEFAULT]\nendpoint_type = both\n", "line 2: [DEFAULT] endpoint_type: must be one of"),
        ("[DEFAULT]\nmapping_file =\n", "line 2: [DEFAULT] mapping_file: is empty"),
        ("[DEFAULT]\nmin_ram = 1\n", "line 2: [DEFAULT] min_ram: unknown option"),
        ("[DEFAULT]\nDebug = true\n", "line 2: [DEFAULT] Debug: unknown option"),
        (
            "[DEFAULT]\nauth_url = x\n",
            "line 2: [DEFAULT] auth_url: unknown option: it belongs in [keystone_authtoken]",
        ),
        (
            "[keystone_authtoken]\nauth_type = password\n",
            "line 2: [keystone_authtoken] auth_type: unknown option",
        ),
        (
            "[oslo_concurrency]\nlock_path = /tmp\n",
            "line 1: unknown [oslo_concurrency]: the earlier cloudkeeper-os read",
        ),
        ("[default]\ndebug = true\n", "line 1: unknown [default]"),  # oslo.config: DEFAULT is exact
        ("[DEFAULT\n", "line 1: a section header must end with ']'"),
        ("debug = true\n", "line 1: an option before any [section] header"),
        (
            "[DEFAULT]\n  debug = true\n",
            "line 2: an indented line continues a value, but no option precedes it",
        ),
        ("[DEFAULT]\n# x\n  y\n", "line 3: an indented line continues a value"),
        ("[DEFAULT]\n= 1\n", "line 2: an option without a name"),
        ("[DEFAULT]\ndebug = true\ndebug = false\n", "line 3: [DEFAULT] debug: set again (first at line 2)"),
        ("[DEFAULT]\nlog_file = a\nlogfile = b\n", "line 3: [DEFAULT] logfile: set again (first at line 2)"),
        ('{\n  "grpc_port": 50051\n}\n', "line 1: not an INI line"),
        ("[DEFAULT]\nmapping_file = $state_path/voms.json\n", "refers to another option ($state_path)"),
        ("[DEFAULT]\nlog_dir = ${log_base}\n", "line 2: [DEFAULT] log_dir: refers to another option"),
    ],
)
def test_broken_input_is_refused_naming_the_line_and_the_option(text: str, message: str) -> None:
    with pytest.raises(LegacyConfigError) as refused:
        convert(GOOD + text if not text.startswith(("debug", "  ", "[DEFAULT\n")) else text + GOOD)
    lines = GOOD.count("\n") if not text.startswith(("debug", "  ", "[DEFAULT\n")) else 0
    expected = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + lines}", message)
    assert str(refused.value).startswith("old.conf, ")
    assert expected in str(refused.value)
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("keystone", "message"),
    [
        (
            "[keystone_authtoken]\npassword = p\n",
            "[keystone_authtoken] auth_url is not set (the section starting at line 1)",
        ),
        ("[DEFAULT]\n", "[keystone_authtoken] auth_url is not set (no [keystone_authtoken] section)"),
        ("", "[keystone_authtoken] auth_url is not set"),
        (f"[keystone_authtoken]\nauth_url = {KEYSTONE}\n", "[keystone_authtoken] password is not set"),
        (
            f"[keystone_authtoken]\nauth_url = {KEYSTONE}\npassword =\n",
            "line 3: [keystone_authtoken] password: is empty",
        ),
        (
            "[keystone_authtoken]\nauth_url =\npassword = x\n",
            "line 2: [keystone_authtoken] auth_url: is empty",
        ),
    ],
)
def test_keystone_settings_the_earlier_daemon_needed(keystone: str, message: str) -> None:
    with pytest.raises(LegacyConfigError, match=re.escape(message)):
        convert(keystone)


@pytest.mark.parametrize(
    "line",
    [
        "password = se$cret",  # a reference to an option "cret", which oslo.config would substitute
        "password = ${secret}",
        f"password = {PASSWORD}\npassword = {PASSWORD}",
    ],
)
def test_no_message_holds_the_password_or_a_part_of_it(line: str) -> None:
    with pytest.raises(LegacyConfigError) as refused:
        convert(f"[keystone_authtoken]\nauth_url = {KEYSTONE}\n{line}\n")
    assert "cret" not in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert "line 3: [keystone_authtoken] password" in str(refused.value) or "line 4" in str(refused.value)


def test_a_stray_line_is_not_shown_it_might_be_the_password() -> None:
    with pytest.raises(LegacyConfigError) as refused:
        convert(f"[keystone_authtoken]\nauth_url = {KEYSTONE}\npassword =\nhunter2\n")
    assert "hunter2" not in str(refused.value)
    assert "line 4: not an INI line" in str(refused.value)
