// Our own typing signal: `typing` true at most every 3 s while typing, false
// after 4 s idle, on send, or when leaving the conversation.

const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;

export function createTyping(core) {
  let sentAt = 0;
  let conv = null;
  let stopTimer = null;

  function typing(cid) {
    const now = Date.now();
    if (conv !== cid || now - sentAt > TYPING_THROTTLE_MS) {
      if (core.socket?.send({ type: 'typing', conversation_id: cid, is_typing: true })) {
        sentAt = now;
        conv = cid;
      }
    }
    clearTimeout(stopTimer);
    stopTimer = setTimeout(stop, TYPING_IDLE_MS);
  }

  function stop() {
    clearTimeout(stopTimer);
    if (conv != null) core.socket?.send({ type: 'typing', conversation_id: conv, is_typing: false });
    conv = null;
    sentAt = 0;
  }

  return { typing, stop };
}
