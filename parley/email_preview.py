"""`parley email-preview TYPE`: one of notify's emails rendered with sample data, to look at
a template change without sending anything (`--out` the file; .eml opens in a mail client,
.html in a browser, .txt is the plain-text part)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from notify.emails import render
from notify.models import EmailItem

WEB_URL = "http://127.0.0.1:8000"
UNSUBSCRIBE_URL = f"{WEB_URL}/notifications/unsubscribe?token=preview"

# Sample notifications, as notify's triggers word them (notifications/triggers.py).
SAMPLES: dict[str, dict[str, str]] = {
    "mention": {
        "title": "alice mentioned you",
        "body": "@bob can you look at the release notes before 5?",
        "link": "/?conversation=42",
    },
    "friend_request": {"title": "alice sent you a friend request", "link": "/?view=friends"},
    "friend_accepted": {"title": "alice accepted your friend request", "link": "/?view=friends"},
    "added_to_group": {"title": "alice added you to Release team", "link": "/?conversation=42"},
    "host": {
        "type": "task.assigned",
        "title": "Task assigned to you: Fix the login page",
        "body": "Due Friday. Priority: high.",
        "link": "https://tasks.example.com/t/1234",
    },
}


def _missed_items() -> list[EmailItem]:
    sent = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    lines = [("alice", "Morning! Did the deploy go out?"), ("carol", "Yes, at 9:12. <All> good")]
    return [
        EmailItem(
            id=i,
            user_id=2,
            conversation_id=42,
            message_id=100 + i,
            seq=i,
            sender_username=who,
            content=text,
            created_at=sent,
        )
        for i, (who, text) in enumerate(lines, start=1)
    ]


def preview(template: str) -> EmailMessage:
    common = {"sender": "Parley <no-reply@parley.local>", "to": "bob@example.com"}
    if template in ("missed_messages", "digest"):
        sections = render.group_by_conversation(
            _missed_items(), names={42: "Release team"}, web_url=WEB_URL
        )
        return render.build_message(
            kind="digest" if template == "digest" else "missed",
            email_id=1,
            username="bob",
            sections=sections,
            web_url=WEB_URL,
            unsubscribe_url=UNSUBSCRIBE_URL,
            **common,
        )
    sample = SAMPLES[template]
    return render.notification_message(
        email_id=1,
        type_=sample.get("type", template),
        title=sample["title"],
        body=sample.get("body", ""),
        link=sample.get("link"),
        username="bob",
        web_url=WEB_URL,
        unsubscribe_url=UNSUBSCRIBE_URL,
        **common,
    )


def write(message: EmailMessage, out: Path) -> None:
    if out.suffix in (".html", ".txt"):
        part = message.get_body(preferencelist=("html",) if out.suffix == ".html" else ("plain",))
        assert part is not None
        out.write_text(part.get_content(), encoding="utf-8")
    else:
        out.write_bytes(message.as_bytes())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley email-preview",
        description="Render one of notify's emails with sample data to a file.",
    )
    parser.add_argument("type", choices=render.TEMPLATES, help="which email")
    parser.add_argument(
        "--out",
        type=Path,
        help="the file to write: .eml (whole email), .html or .txt (one part); "
        "default: email-preview-TYPE.eml",
    )
    args = parser.parse_args(argv)
    out = args.out or Path(f"email-preview-{args.type}.eml")
    message = preview(args.type)
    write(message, out)
    print(f"{message['Subject']} → {out}")


if __name__ == "__main__":
    main()
