// The offline outbox: every send is a pending message (shown at once) that is
// sent over the socket, or over REST when there is no socket, and re-sent with
// the SAME client_msg_id until the server acknowledges it, so a retry can never
// duplicate. Pending messages survive a reload in localStorage.

import { ApiError, NetworkError } from '../api.js';
import { uuid, errorText } from '../util.js';

export const ACK_TIMEOUT_MS = 10000;

export function createOutbox(core) {
  const { api, store, state, toast, storage } = core;
  const ackTimers = new Map();

  function key() {
    return state.me ? `parley.outbox.${state.me.id}` : null;
  }

  function save() {
    const k = key();
    if (!k) return;
    try {
      const items = [...state.pending.values()].map(({ client_msg_id, conversation_id, content, reply_to, attachments, created_at }) => ({ client_msg_id, conversation_id, content, reply_to, attachments, created_at }));
      if (items.length) storage.setItem(k, JSON.stringify(items));
      else storage.removeItem(k);
    } catch { /* storage full or unavailable: the outbox still works for this page */ }
  }

  function restore() {
    const k = key();
    if (!k) return;
    try {
      for (const p of JSON.parse(storage.getItem(k) || '[]')) store.addPending({ ...p, status: 'queued', attempts: 0 });
    } catch { /* ignore a corrupt outbox */ }
  }

  /** `attachments`: uploads (POST /attachments answers) the message carries; text may then be empty. */
  function send(cid, content, replyTo = null, attachments = []) {
    const text = content.trim();
    if (!text && !attachments.length) return null;
    core.typing.stop();
    const p = {
      client_msg_id: uuid(),
      conversation_id: cid,
      content: text,
      reply_to: replyTo,
      attachments,
      status: 'sending',
      attempts: 0,
      created_at: new Date().toISOString(),
    };
    store.addPending(p);
    dispatch(p.client_msg_id);
    return p.client_msg_id;
  }

  /** Sends (or re-sends, with the same client_msg_id) one pending message. */
  function dispatch(id) {
    const p = state.pending.get(id);
    if (!p) return;
    clearTimeout(ackTimers.get(id));
    p.attempts = (p.attempts || 0) + 1;
    const frame = { type: 'send_message', conversation_id: p.conversation_id, content: p.content, client_msg_id: id };
    if (p.reply_to) frame.reply_to = p.reply_to;
    const attachmentIds = (p.attachments || []).map((a) => a.id);
    if (attachmentIds.length) frame.attachment_ids = attachmentIds;
    if (core.socket?.send(frame)) {
      store.updatePending(id, { status: 'sending' });
      ackTimers.set(id, setTimeout(() => dispatch(id), ACK_TIMEOUT_MS));
      return;
    }
    // No live socket: try REST; if that fails too, it waits for the next `connected`.
    store.updatePending(id, { status: 'sending' });
    api.sendMessage({
      conversation_id: p.conversation_id, content: p.content, client_msg_id: id, reply_to: p.reply_to || undefined,
      attachment_ids: attachmentIds.length ? attachmentIds : undefined,
    })
      .then((m) => acked(id, m))
      .catch((e) => {
        if (!state.pending.has(id)) return;
        if (e instanceof NetworkError || (e instanceof ApiError && (e.status >= 500 || e.status === 429 || e.code === 'unavailable'))) {
          store.updatePending(id, { status: 'queued' });
        } else {
          store.updatePending(id, { status: 'failed', error: errorText(e) });
          toast(`Message not sent: ${errorText(e)}`, { error: true });
        }
      });
  }

  /** The server stored the message (ack frame or REST answer). */
  function acked(clientMsgId, m) {
    clearTimeout(ackTimers.get(clientMsgId));
    ackTimers.delete(clientMsgId);
    if (!m) {
      store.removePending(clientMsgId);
      return;
    }
    const cid = m.conversation_id;
    store.addMessages(cid, [m]);
    store.removePending(clientMsgId);
    // The ack may beat the new_message frame; the summary and cursor move now, the frame is then a duplicate.
    const gap = state.cursors.see(cid, m.seq);
    store.noteLiveMessage(m, { visible: true });
    if (gap) core.socket?.resume({ [String(cid)]: state.cursors.get(cid) });
  }

  /** An error frame about one of our sends: retry later when it is transient, else mark it failed. Returns false when it is not ours. */
  function rejected(f) {
    if (!f.client_msg_id || !state.pending.has(f.client_msg_id)) return false;
    clearTimeout(ackTimers.get(f.client_msg_id));
    if (f.code === 'unavailable' || f.code === 'rate_limited') {
      const p = state.pending.get(f.client_msg_id);
      const wait = Math.max(1, Number(f.retry_after) || 2 ** Math.min(p.attempts || 1, 5)) * 1000;
      store.updatePending(f.client_msg_id, { status: 'queued' });
      ackTimers.set(f.client_msg_id, setTimeout(() => dispatch(f.client_msg_id), wait));
    } else {
      store.updatePending(f.client_msg_id, { status: 'failed', error: f.detail || f.code });
      toast(`Message not sent: ${f.detail || f.code}`, { error: true });
    }
    return true;
  }

  function flush() {
    for (const [id, p] of state.pending) if (p.status !== 'failed') dispatch(id);
  }

  function discard(id) {
    clearTimeout(ackTimers.get(id));
    ackTimers.delete(id);
    store.removePending(id);
  }

  function stop() {
    for (const t of ackTimers.values()) clearTimeout(t);
    ackTimers.clear();
  }

  return { save, restore, send, dispatch, acked, rejected, flush, retry: dispatch, discard, stop };
}
