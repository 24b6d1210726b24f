// The conversation on screen and its history: open/close (join/leave frames),
// the latest page and older pages, resync after a gap too large to replay, and
// the read cursor, which moves only while the conversation is visible.

import { ApiError } from '../api.js';
import { errorText } from '../util.js';

const PAGE = 50;

export function createConversations(core) {
  const { api, store, state, toast } = core;

  function isVisible(cid) {
    return cid === state.activeId && core.isPageVisible();
  }

  async function refresh(cid) {
    const removals = state.removals.get(cid) || 0;
    try {
      const conv = await api.conversation(cid);
      // Left or kicked while the request was in flight: the answer is stale.
      if ((state.removals.get(cid) || 0) !== removals) return;
      store.upsertConversation(conv);
      store.emit('members', cid);
      if (cid === state.activeId) store.emit('active');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) store.removeConversation(cid);
    }
  }

  async function resync(cid) {
    await refresh(cid);
    if (state.threads.has(cid)) await loadLatest(cid, { reset: true });
    else {
      const c = state.conversations.get(cid);
      state.cursors.reset(cid, c?.last_seq || 0);
    }
  }

  async function loadLatest(cid, { reset = false } = {}) {
    const t = reset ? store.resetThread(cid) : store.thread(cid);
    t.loading = true;
    store.emit('history', cid);
    try {
      const page = await api.messages(cid, { limit: PAGE });
      t.loaded = true;
      t.hasMore = page.length > 0 ? page[0].seq > 1 : false;
      store.addMessages(cid, page);
      const top = page.length ? page[page.length - 1].seq : 0;
      if (reset) state.cursors.reset(cid, Math.max(top, state.conversations.get(cid)?.last_seq || 0));
      else state.cursors.raise(cid, top);
      store.emit('messages', cid);
    } catch (e) {
      toast(`Could not load messages: ${errorText(e)}`, { error: true });
    } finally {
      t.loading = false;
      store.emit('history', cid);
    }
  }

  async function loadOlder(cid) {
    const t = store.thread(cid);
    if (t.loading || !t.hasMore || !t.loaded) return false;
    const before = t.minSeq;
    if (before == null || before <= 1) { t.hasMore = false; store.emit('history', cid); return false; }
    t.loading = true;
    store.emit('history', cid);
    try {
      const page = await api.messages(cid, { before_seq: before, limit: PAGE });
      t.hasMore = page.length > 0 && page[0].seq > 1;
      store.addMessages(cid, page);
      return page.length > 0;
    } catch (e) {
      toast(`Could not load older messages: ${errorText(e)}`, { error: true });
      return false;
    } finally {
      t.loading = false;
      store.emit('history', cid);
    }
  }

  async function open(cid) {
    const prev = state.activeId;
    if (prev && prev !== cid) {
      core.socket?.send({ type: 'leave_conversation', conversation_id: prev });
      core.typing.stop();
    }
    const c = state.conversations.get(cid);
    // "New messages" goes above the first unread one; remembered before marking read.
    if (prev !== cid) store.setDivider(cid, c && c.unread_count ? (c.last_seq || 0) - c.unread_count + 1 : null);
    if (c) c.unread_count = 0;
    store.setActive(cid);
    core.socket?.send({ type: 'join_conversation', conversation_id: cid });
    api.receipts(cid).then((r) => store.setReceipts(cid, r)).catch(() => {});
    if (!store.thread(cid).loaded) await loadLatest(cid);
    markRead(cid);
  }

  function close() {
    const prev = state.activeId;
    if (prev) {
      core.typing.stop();
      core.socket?.send({ type: 'leave_conversation', conversation_id: prev });
    }
    store.setActive(null);
  }

  /** Moves my read cursor to the newest message when the conversation is on screen. */
  function markRead(cid) {
    if (!isVisible(cid)) return;
    const c = state.conversations.get(cid);
    const t = state.threads.get(cid);
    const seq = Math.max(t?.maxSeq || 0, c?.last_seq || 0);
    if (!seq) return;
    const mine = state.receipts.get(cid)?.get(state.me?.id);
    if (c && c.unread_count) store.patchConversation(cid, { unread_count: 0 });
    if (mine && mine.read >= seq) return;
    store.noteReceipt(cid, state.me.id, { read: seq });
    if (!core.socket?.send({ type: 'mark_read', conversation_id: cid, seq })) api.markRead(cid, seq).catch(() => {});
  }

  /** Opens a conversation and pages back until the message is loaded. */
  async function jumpTo(cid, messageId) {
    await open(cid);
    const t = store.thread(cid);
    for (let i = 0; i < 40 && !t.byId.has(messageId) && t.hasMore; i += 1) {
      if (!(await loadOlder(cid))) break;
    }
    const m = t.byId.get(messageId);
    if (m) store.emit('highlight', { conversationId: cid, seq: m.seq });
  }

  function otherMember(c) {
    const me = state.me?.id;
    return (c?.members || []).map((m) => m.user).find((u) => u && u.id !== me) || null;
  }

  function title(c) {
    if (!c) return '';
    if (c.type === 'group') return c.name || 'Unnamed group';
    return otherMember(c)?.username || c.name || 'Direct chat';
  }

  return { isVisible, refresh, resync, loadLatest, loadOlder, open, close, markRead, jumpTo, otherMember, title };
}
