"""Which channels (in-app, email, push) a user wants for each notification type.

Chat's own types have fixed names; host products send dotted names of their own
(`task.assigned`), which all share the entry `host` unless the user chose for that exact type.
Only what the user changed is stored (`preferences.channels`); everything else is the default.
"""

from __future__ import annotations

import re
from typing import Literal

from ..models import Preferences

Channel = Literal["in_app", "email", "push"]
CHANNELS: tuple[Channel, ...] = ("in_app", "email", "push")
HOST = "host"
HOST_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

# Email for chat's own events is the missed-message email and the digest (their own settings).
BUILT_IN: dict[str, dict[Channel, bool]] = {
    "mention": {"in_app": True, "email": False, "push": True},
    "friend_request": {"in_app": True, "email": False, "push": True},
    "friend_accepted": {"in_app": True, "email": False, "push": True},
    "added_to_group": {"in_app": True, "email": False, "push": True},
    "integration": {"in_app": True, "email": False, "push": True},
    HOST: {"in_app": True, "email": True, "push": True},
}


def is_host_type(type_: str) -> bool:
    return bool(HOST_TYPE.match(type_))


def choosable(type_: str) -> bool:
    return type_ in BUILT_IN or is_host_type(type_)


def defaults_for(type_: str) -> dict[Channel, bool]:
    return dict(BUILT_IN.get(type_) or BUILT_IN[HOST])


def effective(prefs: Preferences, type_: str) -> dict[Channel, bool]:
    chosen = prefs.channels or {}
    result = defaults_for(type_)
    if is_host_type(type_):
        result.update(chosen.get(HOST) or {})  # type: ignore[arg-type]
    result.update(chosen.get(type_) or {})  # type: ignore[arg-type]
    return result


def wants(prefs: Preferences, type_: str, channel: Channel) -> bool:
    return effective(prefs, type_)[channel]


def merged(
    current: dict[str, dict[str, bool]] | None, change: dict[str, dict[str, bool | None]]
) -> dict[str, dict[str, bool]]:
    """The stored choices after a partial change (a channel set to null returns to default)."""
    result = {t: dict(c) for t, c in (current or {}).items()}
    for type_, channels in change.items():
        entry = result.setdefault(type_, {})
        for channel, value in channels.items():
            if value is None:
                entry.pop(channel, None)
            else:
                entry[channel] = value
        if not entry:
            del result[type_]
    return result


def listed(prefs: Preferences) -> dict[str, dict[Channel, bool]]:
    """Every built-in type, `host`, and each host type the user chose for."""
    types = list(BUILT_IN) + sorted(t for t in (prefs.channels or {}) if t not in BUILT_IN)
    return {t: effective(prefs, t) for t in types}
