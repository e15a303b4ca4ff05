"""Outgoing email over real SMTP: codes, notices, processor requests.

``Mailer(settings).send(to, subject, text, html=None, *, unsubscribe_url=None)`` builds
a UTF-8 MIME message (plain text, plus an HTML alternative when given) with a
``Message-ID`` and ``Date``, and delivers it with :mod:`smtplib` to
``INTEGRITET_SMTP_HOST``/``PORT``: implicit TLS when ``INTEGRITET_SMTP_TLS`` is set,
``STARTTLS`` when ``INTEGRITET_SMTP_STARTTLS`` is set, ``LOGIN`` when a user is set.
It returns the message id.

Every message carries ``List-Unsubscribe`` (RFC 2369):

- with ``unsubscribe_url`` (mail sent on a consent, e.g. alarms and newsletters): that
  signed one-click link, plus ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058), because a bare POST to it withdraws that one consent;
- otherwise (service and legal mail: codes, request notices, retention warnings,
  policy-change notices, processor requests): a sealed link to the portal's
  communication-preferences page for the recipient's address
  (:class:`integritet.consent.links.PreferenceLinks`, key ``unsubscribe.key`` in
  ``INTEGRITET_HOME``, address ``INTEGRITET_BASE_URL``), where the person sees and
  withdraws every consent without signing in, and ``mailto:`` the privacy contact when one
  is known. No ``List-Unsubscribe-Post`` there: that page needs a confirming click.

Every failure becomes a :class:`~integritet.errors.ConnectorError` naming the server
and the kind of failure, never the recipient's address (server replies often echo it,
so they are left out too).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import quote

from integritet.clock import Clock, SystemClock
from integritet.errors import ConnectorError
from integritet.settings import Settings

if TYPE_CHECKING:
    from integritet.consent.links import PreferenceLinks

__all__ = ["ONE_CLICK", "Mailer"]

ONE_CLICK: Final = "List-Unsubscribe=One-Click"
DEFAULT_TIMEOUT: Final = 15.0


def _has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value


class MailSender(Protocol):
    """What sending code needs of a mailer: :class:`Mailer`, or a test double."""

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str: ...


class Mailer:
    """Send email through the SMTP server in ``settings``.

    ``ssl_context`` overrides the default (system CAs, hostname checked), e.g. to trust a
    private CA. ``timeout`` (seconds) bounds connecting and every SMTP command.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
        privacy_contact: str | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.clock: Clock = clock or SystemClock()
        contact = privacy_contact or settings.privacy_contact
        if contact is not None and (_has_line_break(contact) or "@" not in contact):
            raise ConnectorError("the privacy contact is not an email address")
        self.privacy_contact = contact
        self._preferences: PreferenceLinks | None = None

    def default_unsubscribe(self, address: str) -> str:
        """``List-Unsubscribe`` for mail without a consent of its own: the recipient's
        preferences page (sealed link, no sign-in) and ``mailto:`` the privacy contact."""
        if self._preferences is None:
            from integritet.consent.wiring import preference_links

            self._preferences = preference_links(self.settings)
        parts = [f"<{self._preferences.url(self.settings.base_url, address)}>"]
        if self.privacy_contact:
            subject = quote("Avregistrering / Unsubscribe")
            parts.append(f"<mailto:{quote(self.privacy_contact, safe='@')}?subject={subject}>")
        return ", ".join(parts)

    @property
    def server(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def build(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> EmailMessage:
        """The message ``send`` would deliver (raises ConnectorError on unusable input)."""
        _name, address = parseaddr(to)
        if not address or "@" not in address or _has_line_break(to):
            raise ConnectorError("cannot send mail: the recipient address is not valid")
        if _has_line_break(subject):
            raise ConnectorError("cannot send mail: the subject contains a line break")
        sender = self.settings.smtp_sender
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.clock.now())
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
        if unsubscribe_url is not None:
            if _has_line_break(unsubscribe_url) or not unsubscribe_url.startswith(
                ("https://", "http://")
            ):
                raise ConnectorError("cannot send mail: the unsubscribe URL is not http(s)")
            msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            msg["List-Unsubscribe-Post"] = ONE_CLICK
        else:
            msg["List-Unsubscribe"] = self.default_unsubscribe(address)
        msg.set_content(text, charset="utf-8")
        if html is not None:
            msg.add_alternative(html, subtype="html", charset="utf-8")
        # Headers are folded at 78 columns by default, and a link longer than that cannot be
        # folded, so it would be sent as RFC 2047 encoded words that mail clients do not read
        # as a List-Unsubscribe URL. Lines may be up to 998 (RFC 5322 2.1.1); the body's
        # encoding was chosen above and does not change.
        msg.policy = msg.policy.clone(max_line_length=998)
        return msg

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        """Deliver one message; return its ``Message-ID``."""
        msg = self.build(to, subject, text, html, unsubscribe_url=unsubscribe_url)
        self._deliver(msg)
        return str(msg["Message-ID"])

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_tls:
            return smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)

    def _deliver(self, msg: EmailMessage) -> None:
        s = self.settings
        try:
            with self._connect() as smtp:
                if s.smtp_starttls and not s.smtp_tls:
                    smtp.starttls(context=self._context())
                if s.smtp_user:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    smtp.login(s.smtp_user, password)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused:
            raise ConnectorError(f"mail server {self.server} refused the recipient") from None
        except smtplib.SMTPAuthenticationError:
            raise ConnectorError(f"mail server {self.server} rejected the credentials") from None
        except smtplib.SMTPResponseException as exc:
            raise ConnectorError(
                f"mail server {self.server} answered {exc.smtp_code} ({type(exc).__name__})"
            ) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise ConnectorError(
                f"mail delivery via {self.server} failed ({type(exc).__name__})"
            ) from None
