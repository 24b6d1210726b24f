"""Email bodies from Jinja2 templates: plain text and HTML (autoescaped: user content is data)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..models import EmailItem

_TEMPLATES = Path(__file__).parent / "templates"
_html = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True, undefined=StrictUndefined)
# The text/plain part is not HTML: escaping would show "&lt;" to the reader. Only .txt templates
# are rendered with it, and no mail client interprets text/plain as markup (bandit B701 reviewed).
_text = Environment(  # nosec B701
    loader=FileSystemLoader(_TEMPLATES), autoescape=False, undefined=StrictUndefined
)


@dataclass
class ConversationSection:
    conversation_id: int
    title: str
    link: str
    messages: list[EmailItem] = field(default_factory=list)


def group_by_conversation(
    items: Iterable[EmailItem], *, names: dict[int, str | None], web_url: str
) -> list[ConversationSection]:
    sections: dict[int, ConversationSection] = {}
    for item in sorted(items, key=lambda i: (i.conversation_id, i.seq)):
        section = sections.get(item.conversation_id)
        if section is None:
            name = names.get(item.conversation_id)
            title = name or f"Your conversation with {item.sender_username}"
            link = f"{web_url.rstrip('/')}/?conversation={item.conversation_id}"
            section = sections[item.conversation_id] = ConversationSection(
                item.conversation_id, title, link
            )
        section.messages.append(item)
    return list(sections.values())


# The template of each notification type's email; host-defined types share `host`.
NOTIFICATION_TEMPLATES = {
    "mention": "mention",
    "friend_request": "friend_request",
    "friend_accepted": "friend_accepted",
    "added_to_group": "added_to_group",
    "integration": "host",
}
# What `parley email-preview` can render: every template but the layout.
TEMPLATES = (
    "mention",
    "friend_request",
    "friend_accepted",
    "added_to_group",
    "missed_messages",
    "digest",
    "host",
)


def template_for(type_: str) -> str:
    return NOTIFICATION_TEMPLATES.get(type_, "host")


def absolute_link(link: str | None, web_url: str) -> str:
    """Notification links are paths in the web client (`/?view=friends`) or a host's URL."""
    base = web_url.rstrip("/")
    if not link:
        return base + "/"
    return base + link if link.startswith("/") else link


def compose(
    *,
    template: str,
    subject: str,
    context: dict[str, Any],
    message_id: str,
    sender: str,
    to: str,
    unsubscribe_url: str,
) -> EmailMessage:
    """An email from a template pair (`<template>.txt`, `<template>.html`), which extend the
    shared layout (greeting, why this email came, the unsubscribe link)."""
    context = context | {"unsubscribe_url": unsubscribe_url}
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    # Stable per queued email: a copy re-sent after a crash (see sender.py) can be recognised.
    message["Message-ID"] = make_msgid(idstring=message_id, domain="parley.local")
    # RFC 8058 one-click unsubscribe: mail clients POST to this URL.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_text.get_template(f"{template}.txt").render(context))
    message.add_alternative(_html.get_template(f"{template}.html").render(context), subtype="html")
    return message


def build_message(
    *,
    kind: str,
    email_id: int,
    sender: str,
    to: str,
    username: str,
    sections: Sequence[ConversationSection],
    web_url: str,
    unsubscribe_url: str,
) -> EmailMessage:
    """The missed-message email (`kind` missed) or the daily digest (`kind` digest)."""
    count = sum(len(s.messages) for s in sections)
    plural = "s" if count != 1 else ""
    if kind == "digest":
        subject = f"Your daily Parley summary: {count} unread message{plural}"
    else:
        subject = f"You have {count} unread message{plural} on Parley"
    return compose(
        template="digest" if kind == "digest" else "missed_messages",
        subject=subject,
        context={"username": username, "sections": sections, "count": count, "web_url": web_url},
        message_id=f"parley-email-{email_id}",
        sender=sender,
        to=to,
        unsubscribe_url=unsubscribe_url,
    )


def notification_message(
    *,
    email_id: int,
    type_: str,
    title: str,
    body: str,
    link: str | None,
    sender: str,
    to: str,
    username: str,
    web_url: str,
    unsubscribe_url: str,
) -> EmailMessage:
    """One notification's email; a host type is named in the subject (`[task.assigned] ...`)."""
    template = template_for(type_)
    subject = f"[{type_}] {title}" if template == "host" and type_ != "integration" else title
    return compose(
        template=template,
        subject=subject,
        context={
            "username": username,
            "type": type_,
            "title": title,
            "body": body,
            "link": absolute_link(link, web_url),
            "web_url": web_url,
        },
        message_id=f"parley-notification-email-{email_id}",
        sender=sender,
        to=to,
        unsubscribe_url=unsubscribe_url,
    )
