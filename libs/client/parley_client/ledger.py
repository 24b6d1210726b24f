"""The seq ledger: each conversation's messages once each, by seq, and the cursor up to which
every message was seen (what a `resume` asks after). No I/O: the socket feeds it."""

from __future__ import annotations

from .wire import schemas

MessageRead = schemas.MessageRead


class MessageLedger:
    def __init__(self) -> None:
        #: per conversation: the highest seq up to which every message was seen
        self.cursors: dict[int, int] = {}
        self.duplicates_dropped = 0
        self._floor: dict[int, int] = {}
        self._messages: dict[int, dict[int, MessageRead]] = {}

    def accept(self, message: MessageRead) -> bool:
        """Stores a message; False when (conversation_id, seq) was seen (or is below the floor)."""
        cid, seq = message.conversation_id, message.seq
        known = self._messages.setdefault(cid, {})
        if seq in known or seq <= self._floor.get(cid, 0):
            self.duplicates_dropped += 1
            return False
        known[seq] = message
        cursor = self.cursors.get(cid)
        if cursor is None:
            # First message of a conversation we were not told about (`track`): what came
            # before it is history the application fetches over REST if it wants it.
            cursor = seq - 1
        while cursor + 1 in known:
            cursor += 1
        self.cursors[cid] = cursor
        return True

    def has_gap(self, cid: int) -> bool:
        """A message past the cursor is known: some seq between them is missing."""
        known = self._messages.get(cid, {})
        return bool(known) and max(known) > self.cursors.get(cid, 0)

    def replace(self, message: MessageRead) -> None:
        known = self._messages.get(message.conversation_id)
        if known is not None and message.seq in known:
            known[message.seq] = message

    def mark_deleted(self, conversation_id: int, message_id: int) -> None:
        for msg in self._messages.get(conversation_id, {}).values():
            if msg.id == message_id:
                msg.deleted = True
                msg.content = ""

    def resume_after(self, cid: int) -> int:
        """The seq after which a REST refetch of the conversation starts."""
        return self.cursors.get(cid, self._floor.get(cid, 0))

    def track(self, conversation_id: int, last_seq: int) -> None:
        """The application has every message up to `last_seq`: older ones are dropped."""
        self._floor[conversation_id] = last_seq
        known = self._messages.setdefault(conversation_id, {})
        cursor = max(self.cursors.get(conversation_id, 0), last_seq)
        while cursor + 1 in known:
            cursor += 1
        self.cursors[conversation_id] = cursor

    def messages(self, conversation_id: int) -> list[MessageRead]:
        """Every message seen in the conversation, once each, in seq order."""
        known = self._messages.get(conversation_id, {})
        return [known[s] for s in sorted(known)]

    def seqs(self, conversation_id: int) -> list[int]:
        return sorted(self._messages.get(conversation_id, {}))
