"""Email bodies from Jinja2 templates: plain text and HTML (autoescaped: user content is data)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

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
    count = sum(len(s.messages) for s in sections)
    if kind == "digest":
        subject = f"Your daily Parley summary: {count} unread message{'s' if count != 1 else ''}"
    else:
        subject = f"You have {count} unread message{'s' if count != 1 else ''} on Parley"
    context = {
        "kind": kind,
        "username": username,
        "sections": sections,
        "count": count,
        "web_url": web_url,
        "unsubscribe_url": unsubscribe_url,
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    # Stable per pending email: a copy re-sent after a crash (see sender.py) can be recognised.
    message["Message-ID"] = make_msgid(idstring=f"parley-email-{email_id}", domain="parley.local")
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_text.get_template("missed_messages.txt").render(context))
    message.add_alternative(
        _html.get_template("missed_messages.html").render(context), subtype="html"
    )
    return message
