"""The newcomer's entry points (issue 14): `parley --help` and every command's, where the
runners listen, and what they write into a log file."""

from __future__ import annotations

import email
import email.policy
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from notify.emails.render import TEMPLATES
from parley.cli import COMMANDS, main
from parley.run_settings import RunSettings
from parley.stack import free_port
from parley_common.logging import wants_colour

ROOT = Path(__file__).resolve().parents[1]


def parley(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`parley ARGS` in this process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


class TestHelp:
    def test_the_installed_command_answers_help(self) -> None:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "parley"), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: parley ")
        for command in COMMANDS:
            assert command in done.stdout

    @pytest.mark.parametrize("command", list(COMMANDS))
    def test_every_command_has_help_named_parley(
        self, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        status, out, err = parley(capsys, command, "--help")
        assert status == 0, err
        assert out.startswith(f"usage: parley {command} "), out[:200]

    @pytest.mark.parametrize("args", [(), ("launch",)])
    def test_no_command_or_an_unknown_one_is_a_usage_error(
        self, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
    ) -> None:
        status, _, err = parley(capsys, *args)
        assert status == 2
        assert "usage: parley " in err

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        status, out, _ = parley(capsys, "--version")
        assert status == 0 and out.startswith("parley ")


class TestWhereTheRunnersListen:
    def test_settings_and_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PARLEY_PORT", raising=False)
        assert RunSettings(_env_file=None).port == 8000
        monkeypatch.setenv("PARLEY_PORT", "9100")
        monkeypatch.setenv("PARLEY_HOST", "0.0.0.0")  # nosec B104 - a test value
        run = RunSettings(_env_file=None)
        assert run.url == "http://127.0.0.1:9100"  # a wildcard is reached on loopback

    def test_service_ports_follow_the_base_port(self) -> None:
        ports = RunSettings(port=9100, _env_file=None).service_ports(gateways=3)
        assert ports == {
            "gateway": 9100,
            "auth": 9101,
            "chat": 9102,
            "notify": 9103,
            "gateway-2": 9110,
            "gateway-3": 9120,
        }

    def test_email_links_follow_the_served_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PARLEY_WEB_URL", raising=False)
        monkeypatch.delenv("PARLEY_PUBLIC_URL", raising=False)

        def served() -> RunSettings:
            return RunSettings(host="127.0.0.1", port=9100)

        assert served().email_link_url == "http://127.0.0.1:9100"
        monkeypatch.setenv("PARLEY_PUBLIC_URL", "https://chat.example.com/")
        assert served().email_link_url == "https://chat.example.com"
        monkeypatch.setenv("PARLEY_WEB_URL", "https://web.example.com")
        assert served().email_link_url == "https://web.example.com"

    def test_replicas_log_level_and_json_come_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PARLEY_GATEWAYS", "2")
        monkeypatch.setenv("PARLEY_LOG_LEVEL", "debug")
        monkeypatch.setenv("PARLEY_LOG_JSON", "true")
        run = RunSettings()
        assert (run.gateways, run.log_level, run.log_json) == (2, "debug", True)
        monkeypatch.setenv("PARLEY_GATEWAYS", "0")
        with pytest.raises(ValueError, match="greater than or equal to 1"):
            RunSettings()


class TestLogColours:
    def test_a_file_gets_no_colour_codes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert not wants_colour(io.StringIO())

    def test_a_terminal_does_unless_no_color(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        monkeypatch.delenv("NO_COLOR", raising=False)
        assert wants_colour(Terminal())
        monkeypatch.setenv("NO_COLOR", "1")
        assert not wants_colour(Terminal())


def test_make_run_log_file_has_no_escape_codes(tmp_path: Path) -> None:
    """The embedded runner with readable log lines, its output sent to a file: plain text."""
    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "PARLEY_LOG_LEVEL": "INFO", "PARLEY_LOG_JSON": "false"}
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "parley.embedded", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(tmp_path / "data")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
    text = log.read_text()
    assert f"Parley is running at http://127.0.0.1:{port}/" in text
    assert "[info" in text  # readable log lines were written (structlog's console format)
    assert "\x1b[" not in text, text[:2000]


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class TestEmailPreview:
    @pytest.mark.parametrize("template", TEMPLATES)
    def test_every_email_renders_with_the_shared_layout(
        self, template: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / f"{template}.eml"
        main(["email-preview", template, "--out", str(out)])
        message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
        assert f"{message['Subject']} → {out}" in capsys.readouterr().out
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        assert text.startswith("Hi bob,") and "\nUnsubscribe: http://" in text
        assert "<p>Hi bob,</p>" in html and ">Unsubscribe</a>" in html

    def test_one_part_to_a_file_and_an_unknown_type_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main(["email-preview", "host", "--out", str(tmp_path / "host.html")])
        assert "[task.assigned] Task assigned to you" in capsys.readouterr().out
        assert "https://tasks.example.com/t/1234" in (tmp_path / "host.html").read_text()
        code, _, err = parley(capsys, "email-preview", "newsletter")
        assert code == 2 and "invalid choice: 'newsletter'" in err
