from __future__ import annotations

import email
import email.policy
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integritet.clock import FixedClock
from integritet.consent.links import PreferenceLinks, signing_key
from integritet.errors import ConnectorError, ConsentError
from integritet.mail import ONE_CLICK, Mailer
from integritet.settings import Settings

ADDRESS = "åsa.lindqvist@exempel.se"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings() reads INTEGRITET_HOME: the link key file goes to a temporary home."""
    monkeypatch.setenv("INTEGRITET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INTEGRITET_PRIVACY_CONTACT", raising=False)
    monkeypatch.delenv("INTEGRITET_BASE_URL", raising=False)
    return tmp_path / "home"


@contextmanager
def _server(handler: Any, **kwargs: Any) -> Iterator[int]:
    """Another aiosmtpd server (own handler or TLS options); yields its port."""
    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class _Keep:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.subjects.append(str(message["Subject"]))
        return "250 OK"


def test_sends_utf8_text_and_html_with_message_id(smtp_server: Any) -> None:
    mailer = Mailer(Settings(), clock=FixedClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC)))
    message_id = mailer.send(
        "kund@exempel.se",
        "Din kod / Your code: 123 456, åäö",
        "Hej! Din kod är 123 456.\nHello! Your code is 123 456.",
        "<p>Hej! Din kod är <b>123 456</b>.</p>",
    )
    (msg,) = smtp_server.messages
    assert msg["Message-ID"] == message_id and message_id.endswith("@localhost>")
    assert msg["Subject"] == "Din kod / Your code: 123 456, åäö"
    assert msg["To"] == "kund@exempel.se" and msg["From"] == "integritet@localhost"
    assert msg["Date"] == "Thu, 15 Jan 2026 09:00:00 +0000"
    assert str(msg["List-Unsubscribe"]).startswith("<http://127.0.0.1:8000/portal/preferences/")
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and "Din kod är 123 456." in plain.get_content()
    assert html is not None and "<b>123 456</b>" in html.get_content()
    assert smtp_server.envelopes == [("integritet@localhost", ["kund@exempel.se"])]


def test_unsubscribe_headers_for_one_click(smtp_server: Any) -> None:
    url = "https://example.se/u/abc123"
    Mailer(Settings()).send("kund@exempel.se", "Nyhetsbrev", "Text", unsubscribe_url=url)
    (msg,) = smtp_server.messages
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["List-Unsubscribe-Post"] == ONE_CLICK


def test_mail_without_a_consent_links_to_the_preferences_page(smtp_server: Any, home: Path) -> None:
    """Service and legal mail: the recipient's preferences page (sealed address) and
    mailto the privacy contact; no one-click POST, the page wants a confirming click."""
    settings = Settings(base_url="https://integritet.example.se/")
    Mailer(settings, privacy_contact="dpo@exempel.se").send(ADDRESS, "Din kod", "123 456")
    Mailer(settings).send("kund@exempel.se", "Påminnelse", "Text")
    first, second = smtp_server.messages
    header = str(first["List-Unsubscribe"])
    found = re.fullmatch(
        r"<https://integritet\.example\.se/portal/preferences/(v1\.[\w-]+)>, "
        r"<mailto:dpo@exempel\.se\?subject=Avregistrering%20/%20Unsubscribe>",
        header,
    )
    assert found is not None, header
    assert first["List-Unsubscribe-Post"] is None
    assert "sa.lindqvist" not in header and "exempel" not in found.group(1)
    links = PreferenceLinks(signing_key(home))
    assert links.parse(found.group(1)) == ADDRESS
    assert (home / "unsubscribe.key").stat().st_mode & 0o777 == 0o600
    # without a privacy contact: the link only; each message its own link
    only = str(second["List-Unsubscribe"])
    assert re.fullmatch(r"<https://[^>]+/portal/preferences/v1\.[\w-]+>", only), only
    assert links.parse(only[1:-1].rsplit("/", 1)[1]) == "kund@exempel.se"


def test_long_unsubscribe_links_go_on_the_wire_as_plain_urls(smtp_server: Any, home: Path) -> None:
    """A link longer than a folded line is not turned into RFC 2047 encoded words, which
    mail clients would not read as a List-Unsubscribe URL."""
    settings = Settings(base_url="https://integritet.example.se/")
    long_url = "https://integritet.example.se/u/" + "a" * 150
    to = "kund@exempel.se"  # ASCII: no SMTPUTF8, so the subject must be encoded
    Mailer(settings, privacy_contact="dpo@exempel.se").send(to, "Bekräftelse", "Text")
    Mailer(settings).send(to, "Nyhetsbrev", "Text", unsubscribe_url=long_url)
    service, consent = ({k: v for k, v in m.raw_items()} for m in smtp_server.messages)
    raw = str(service["List-Unsubscribe"])
    assert "=?" not in raw and raw.startswith(
        "<https://integritet.example.se/portal/preferences/v1."
    )
    assert str(consent["List-Unsubscribe"]) == f"<{long_url}>"
    assert "=?utf-8?" in str(service["Subject"])  # non-ASCII subjects are still encoded


def test_preference_tokens_refuse_changes_and_other_keys(home: Path) -> None:
    links = PreferenceLinks(signing_key(home))
    token = links.token("kund@exempel.se")
    assert links.parse(token) == "kund@exempel.se"
    assert links.token("kund@exempel.se") != token  # a fresh nonce per email
    middle = len(token) // 2
    changed = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    for bad in (changed, "v2" + token[2:], token[:-6], "v1.", "v1.!!!!", "", "x" * 2000):
        with pytest.raises(ConsentError):
            links.parse(bad)
    with pytest.raises(ConsentError):
        PreferenceLinks(b"k" * 32).parse(token)


def test_a_privacy_contact_with_a_line_break_is_refused() -> None:
    with pytest.raises(ConnectorError):
        Mailer(Settings(), privacy_contact="dpo@exempel.se\r\nBcc: x@y.se")


def test_non_ascii_recipient_uses_smtputf8(smtp_server: Any) -> None:
    Mailer(Settings()).send(ADDRESS, "Hej Åsa", "Text")
    assert smtp_server.envelopes[0][1] == [ADDRESS]


@pytest.mark.parametrize(
    ("to", "subject", "url"),
    [
        ("not-an-address", "s", None),
        ("a@b.se\r\nBcc: x@y.se", "s", None),
        ("a@b.se", "s\r\nBcc: x@y.se", None),
        ("a@b.se", "s", "javascript:alert(1)"),
    ],
)
def test_unusable_input_is_refused_before_connecting(
    smtp_server: Any, to: str, subject: str, url: str | None
) -> None:
    with pytest.raises(ConnectorError) as info:
        Mailer(Settings()).send(to, subject, "t", unsubscribe_url=url)
    assert "@" not in info.value.message
    assert smtp_server.messages == []


def test_unreachable_server_is_a_connector_error_without_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTEGRITET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", "1")
    with pytest.raises(ConnectorError) as info:
        Mailer(Settings(), timeout=2).send(ADDRESS, "s", "t")
    assert info.value.message == "mail delivery via 127.0.0.1:1 failed (ConnectionRefusedError)"
    assert info.value.__cause__ is None and info.value.__suppress_context__


class _Refusing:
    async def handle_RCPT(
        self, _server: Any, _session: Any, _envelope: Any, address: str, _options: Any
    ) -> str:
        return f"550 <{address}> no such user"


def test_refused_recipient_does_not_leak_the_server_reply() -> None:
    with _server(_Refusing(), enable_SMTPUTF8=True) as port:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port)
        with pytest.raises(ConnectorError) as info:
            Mailer(settings).send(ADDRESS, "s", "t")
    assert info.value.message == f"mail server 127.0.0.1:{port} refused the recipient"


@pytest.fixture
def tls_files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 and its key, made on the spot."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    yield cert_path, key_path


def _auth(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = data.login == b"mailer" and data.password == b"hemligt"
    return AuthResult(success=ok, handled=False)


def _tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@pytest.mark.parametrize("password", ["hemligt", "fel"])
def test_starttls_and_login(tls_files: tuple[Path, Path], password: str) -> None:
    cert, key = tls_files
    keep = _Keep()
    options = {"require_starttls": True, "authenticator": _auth, "auth_required": True}
    with _server(keep, tls_context=_tls(cert, key), **options) as port:
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=True,
            smtp_user="mailer",
            smtp_password=password,
        )
        mailer = Mailer(settings, ssl_context=ssl.create_default_context(cafile=cert), timeout=5)
        if password == "hemligt":
            mailer.send("kund@exempel.se", "Krypterat", "Text")
        else:
            with pytest.raises(ConnectorError, match="rejected the credentials"):
                mailer.send("kund@exempel.se", "Krypterat", "Text")
    assert keep.subjects == (["Krypterat"] if password == "hemligt" else [])


def test_untrusted_certificate_is_refused(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    keep = _Keep()
    with _server(keep, tls_context=_tls(cert, key)) as port:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True)
        with pytest.raises(ConnectorError, match="SSLCertVerificationError"):
            Mailer(settings, timeout=5).send("kund@exempel.se", "s", "t")
    assert keep.subjects == []
