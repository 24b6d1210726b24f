// Application logic between the API, the socket and the store: handles every
// server frame, sends messages through an outbox (optimistic, retried with the
// same client_msg_id until acked), loads history pages, moves read and
// delivered cursors, and exposes the actions the views call.

import { ApiError, NetworkError } from './api.js';
import { ChatSocket, socketUrl } from './socket.js';
import { uuid, errorText } from './util.js';

const PAGE = 50;
const ACK_TIMEOUT_MS = 10000;
const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;

export function createController({ api, store, apiBase = '', toast = () => {}, isPageVisible = () => true, storage = globalThis.localStorage, onSignedOut = () => {}, WebSocketImpl }) {
  const { state } = store;
  let socket = null;
  let connectedOnce = false;
  const ackTimers = new Map();
  let typingSentAt = 0;
  let typingConv = null;
  let typingStopTimer = null;
  let typingSweep = null;
  let outboxWired = false;
  const leaving = new Set(); // conversations being left on purpose (no "you were removed" toast)

  // ---- session -----------------------------------------------------------

  async function boot() {
    const me = await api.me();
    store.setMe(me);
    restoreOutbox();
    const [convs, friends, requests] = await Promise.all([
      api.conversations(), api.friends(), api.friendRequests(),
    ]);
    store.setConversations(convs);
    store.setFriends(friends);
    store.setRequests(requests);
    loadNotifications().catch(() => {});
    socket = new ChatSocket({
      url: socketUrl(apiBase),
      getToken: () => api.accessToken,
      refreshToken: () => api.refresh(),
      getCursors: () => state.cursors.forResume(),
      onFrame: handleFrame,
      onStatus: (s) => store.setConnection(s),
      onAuthLost: () => signOut({ expired: true }),
      ...(WebSocketImpl ? { WebSocketImpl } : {}),
    });
    socket.start();
    typingSweep = setInterval(() => store.expireTyping(), 1000);
    if (!outboxWired) store.on('pending', saveOutbox);
    outboxWired = true;
  }

  async function signOut({ expired = false } = {}) {
    socket?.stop();
    socket = null;
    connectedOnce = false;
    clearInterval(typingSweep);
    for (const t of ackTimers.values()) clearTimeout(t);
    ackTimers.clear();
    if (!expired) await api.logout();
    else api.clearTokens();
    store.reset();
    onSignedOut({ expired });
  }

  function reconnectNow() {
    socket?.kick();
  }

  // ---- frames ------------------------------------------------------------

  function handleFrame(f) {
    switch (f.type) {
      case 'connected': return onConnected();
      case 'new_message': return onNewMessage(f.message);
      case 'ack': return onAck(f.client_msg_id, f.message);
      case 'error': return onErrorFrame(f);
      case 'resync_required': return resync(f.conversation_id);
      case 'message_edited':
      case 'reaction_updated': return onMessageChanged(f.message);
      case 'message_deleted': return onMessageDeleted(f.conversation_id, f.message_id);
      case 'read_receipt':
        if (f.user_id === state.me?.id) store.patchConversation(f.conversation_id, { unread_count: 0 });
        return store.noteReceipt(f.conversation_id, f.user_id, { read: f.seq });
      case 'delivery_receipt': return store.noteReceipt(f.conversation_id, f.user_id, { delivered: f.seq });
      case 'typing':
        if (f.user_id === state.me?.id) return undefined;
        return store.setTyping(f.conversation_id, f.user_id, f.username || 'Someone', !!f.is_typing);
      case 'user_online': return store.setOnline(f.user_id, true);
      case 'user_offline': return store.setOnline(f.user_id, false);
      case 'conversation_created':
        if (!f.conversation) return undefined;
        // A conversation we left or were removed from comes back only if the server still lists us.
        if (state.removals.has(f.conversation.id)) return refreshConversation(f.conversation.id);
        return store.upsertConversation(f.conversation);
      case 'conversation_updated': return onConversationUpdated(f.conversation);
      case 'member_added':
        if (f.new_user?.id === state.me?.id) toast(`${f.added_by?.username || 'Someone'} added you to a group`);
        return refreshConversation(f.conversation_id);
      case 'member_kicked': return refreshConversation(f.conversation_id);
      case 'kicked_from_conversation': {
        const c = state.conversations.get(f.conversation_id);
        if (c && !leaving.has(f.conversation_id)) toast(f.message || `You were removed from ${c.name || 'a conversation'}`);
        return store.removeConversation(f.conversation_id);
      }
      case 'friend_request':
        if (f.request) {
          store.addRequest(f.request);
          toast(`${f.request.requester?.username || 'Someone'} sent you a friend request`);
        }
        return undefined;
      case 'friend_accepted':
        if (f.user) {
          store.addFriend({ is_online: false, ...f.user });
          toast(`${f.user.username} accepted your friend request`);
        }
        return api.friends().then(store.setFriends).catch(() => {});
      case 'notification': return f.notification && store.addNotification(f.notification);
      default: return undefined; // pong, joined_conversation, resumed, viewers, ...
    }
  }

  function onConnected() {
    if (state.activeId) socket.send({ type: 'join_conversation', conversation_id: state.activeId });
    flushOutbox();
    if (connectedOnce) {
      // Catch up on what is not replayed by resume: new conversations, presence, requests, notifications.
      api.conversations().then(store.setConversations).catch(() => {});
      api.friends().then(store.setFriends).catch(() => {});
      api.friendRequests().then(store.setRequests).catch(() => {});
      api.notificationCount().then((r) => store.setNotificationUnread(r.count)).catch(() => {});
      if (state.activeId) api.receipts(state.activeId).then((r) => store.setReceipts(state.activeId, r)).catch(() => {});
    }
    connectedOnce = true;
  }

  function isVisible(cid) {
    return cid === state.activeId && isPageVisible();
  }

  function onNewMessage(m) {
    if (!m) return;
    const cid = m.conversation_id;
    if (!state.conversations.has(cid)) refreshConversation(cid);
    const gap = state.cursors.see(cid, m.seq);
    if (state.threads.has(cid)) store.addMessages(cid, [m]);
    store.noteLiveMessage(m, { visible: isVisible(cid) });
    if (m.sender_id !== state.me?.id) {
      socket?.send({ type: 'mark_delivered', conversation_id: cid, seq: m.seq });
      if (isVisible(cid)) markRead(cid);
      if (m.sender_id != null) store.setTyping(cid, m.sender_id, m.sender_username, false);
    }
    if (gap) socket?.resume({ [String(cid)]: state.cursors.get(cid) });
  }

  function onAck(clientMsgId, m) {
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
    if (gap) socket?.resume({ [String(cid)]: state.cursors.get(cid) });
  }

  function onErrorFrame(f) {
    if (f.client_msg_id && state.pending.has(f.client_msg_id)) {
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
      return;
    }
    // Late answers about a conversation we already left are noise.
    if (f.conversation_id != null && !state.conversations.has(f.conversation_id)) return;
    if (f.code === 'rate_limited') toast('Slow down a little.', { error: true });
    else if (f.detail) toast(String(f.detail), { error: true });
  }

  function onMessageChanged(m) {
    if (!m) return;
    if (state.threads.has(m.conversation_id)) store.addMessages(m.conversation_id, [m]);
    const c = state.conversations.get(m.conversation_id);
    if (c?.last_message?.id === m.id) store.patchConversation(c.id, { last_message: { ...c.last_message, content: m.content } });
  }

  function onMessageDeleted(cid, mid) {
    const t = state.threads.get(cid);
    const m = t?.byId.get(mid);
    if (m) store.addMessages(cid, [{ ...m, deleted: true, content: '' }]);
    const c = state.conversations.get(cid);
    if (c?.last_message?.id === mid) store.patchConversation(cid, { last_message: { ...c.last_message, content: '', deleted: true } });
  }

  function onConversationUpdated(conv) {
    if (!conv) return;
    if (state.conversations.has(conv.id)) store.patchConversation(conv.id, conv);
    else refreshConversation(conv.id);
    store.emit('members', conv.id);
  }

  async function refreshConversation(cid) {
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
    await refreshConversation(cid);
    if (state.threads.has(cid)) await loadLatest(cid, { reset: true });
    else {
      const c = state.conversations.get(cid);
      state.cursors.reset(cid, c?.last_seq || 0);
    }
  }

  // ---- history -----------------------------------------------------------

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

  // ---- conversations -----------------------------------------------------

  async function openConversation(cid) {
    const prev = state.activeId;
    if (prev && prev !== cid) {
      socket?.send({ type: 'leave_conversation', conversation_id: prev });
      stopTyping();
    }
    const c = state.conversations.get(cid);
    if (c) c.unread_count = 0;
    store.setActive(cid);
    socket?.send({ type: 'join_conversation', conversation_id: cid });
    api.receipts(cid).then((r) => store.setReceipts(cid, r)).catch(() => {});
    if (!store.thread(cid).loaded) await loadLatest(cid);
    markRead(cid);
  }

  function closeConversation() {
    const prev = state.activeId;
    if (prev) {
      stopTyping();
      socket?.send({ type: 'leave_conversation', conversation_id: prev });
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
    if (!socket?.send({ type: 'mark_read', conversation_id: cid, seq })) api.markRead(cid, seq).catch(() => {});
  }

  function conversationTitle(c) {
    if (!c) return '';
    if (c.type === 'group') return c.name || 'Unnamed group';
    const other = otherMember(c);
    return other?.username || c.name || 'Direct chat';
  }

  function otherMember(c) {
    const me = state.me?.id;
    return (c?.members || []).map((m) => m.user).find((u) => u && u.id !== me) || null;
  }

  // ---- sending (outbox) --------------------------------------------------

  function outboxKey() {
    return state.me ? `parley.outbox.${state.me.id}` : null;
  }

  function saveOutbox() {
    const key = outboxKey();
    if (!key) return;
    try {
      const items = [...state.pending.values()].map(({ client_msg_id, conversation_id, content, reply_to, created_at }) => ({ client_msg_id, conversation_id, content, reply_to, created_at }));
      if (items.length) storage.setItem(key, JSON.stringify(items));
      else storage.removeItem(key);
    } catch { /* storage full or unavailable */ }
  }

  function restoreOutbox() {
    const key = outboxKey();
    if (!key) return;
    try {
      for (const p of JSON.parse(storage.getItem(key) || '[]')) store.addPending({ ...p, status: 'queued', attempts: 0 });
    } catch { /* ignore a corrupt outbox */ }
  }

  function send(cid, content, replyTo = null) {
    const text = content.trim();
    if (!text) return null;
    stopTyping();
    const p = {
      client_msg_id: uuid(),
      conversation_id: cid,
      content: text,
      reply_to: replyTo,
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
    if (socket?.send(frame)) {
      store.updatePending(id, { status: 'sending' });
      ackTimers.set(id, setTimeout(() => dispatch(id), ACK_TIMEOUT_MS));
      return;
    }
    // No live socket: try REST; if that fails too, it waits for the next `connected`.
    store.updatePending(id, { status: 'sending' });
    api.sendMessage({ conversation_id: p.conversation_id, content: p.content, client_msg_id: id, reply_to: p.reply_to || undefined })
      .then((m) => onAck(id, m))
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

  function flushOutbox() {
    for (const [id, p] of state.pending) if (p.status !== 'failed') dispatch(id);
  }

  function retryPending(id) {
    dispatch(id);
  }

  function discardPending(id) {
    clearTimeout(ackTimers.get(id));
    ackTimers.delete(id);
    store.removePending(id);
  }

  // ---- typing ------------------------------------------------------------

  function typing(cid) {
    const now = Date.now();
    if (typingConv !== cid || now - typingSentAt > TYPING_THROTTLE_MS) {
      if (socket?.send({ type: 'typing', conversation_id: cid, is_typing: true })) {
        typingSentAt = now;
        typingConv = cid;
      }
    }
    clearTimeout(typingStopTimer);
    typingStopTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingStopTimer);
    if (typingConv != null) socket?.send({ type: 'typing', conversation_id: typingConv, is_typing: false });
    typingConv = null;
    typingSentAt = 0;
  }

  // ---- message actions ---------------------------------------------------

  async function edit(msg, content) {
    const text = content.trim();
    if (!text || text === msg.content) return;
    try {
      onMessageChanged(await api.editMessage(msg.id, text));
    } catch (e) { toast(`Could not edit: ${errorText(e)}`, { error: true }); }
  }

  async function remove(msg) {
    try {
      await api.deleteMessage(msg.id);
      onMessageDeleted(msg.conversation_id, msg.id);
    } catch (e) { toast(`Could not delete: ${errorText(e)}`, { error: true }); }
  }

  async function toggleReaction(msg, emoji) {
    const mine = (msg.reactions?.[emoji] || []).includes(state.me?.id);
    try {
      onMessageChanged(await (mine ? api.removeReaction(msg.id, emoji) : api.addReaction(msg.id, emoji)));
    } catch (e) { toast(`Could not react: ${errorText(e)}`, { error: true }); }
  }

  /** Opens a conversation and pages back until the message is loaded. */
  async function jumpTo(cid, messageId) {
    await openConversation(cid);
    const t = store.thread(cid);
    for (let i = 0; i < 40 && !t.byId.has(messageId) && t.hasMore; i += 1) {
      if (!(await loadOlder(cid))) break;
    }
    const m = t.byId.get(messageId);
    if (m) store.emit('highlight', { conversationId: cid, seq: m.seq });
  }

  // ---- friends -----------------------------------------------------------

  async function sendFriendRequest(username) {
    const r = await api.sendFriendRequest(username);
    toast(r?.message || 'Friend request sent');
  }

  async function acceptRequest(rid) {
    await api.acceptRequest(rid);
    store.removeRequest(rid);
    store.setFriends(await api.friends());
  }

  async function rejectRequest(rid) {
    await api.rejectRequest(rid);
    store.removeRequest(rid);
  }

  async function startDirect(uid) {
    const c = store.upsertConversation(await api.openDirect(uid));
    await openConversation(c.id);
    return c;
  }

  // ---- groups ------------------------------------------------------------

  async function createGroup(name, memberIds) {
    const c = store.upsertConversation(await api.createGroup(name, memberIds));
    await openConversation(c.id);
    return c;
  }

  async function rename(cid, name) {
    const c = await api.rename(cid, name);
    store.upsertConversation(c);
    store.emit('active');
  }

  async function addMember(cid, uid) {
    await api.addMember(cid, uid);
    await refreshConversation(cid);
  }

  async function kick(cid, uid) {
    await api.kick(cid, uid);
    await refreshConversation(cid);
  }

  async function leave(cid) {
    leaving.add(cid);
    try {
      await api.leave(cid);
      if (state.activeId === cid) closeConversation();
      store.removeConversation(cid);
    } finally {
      setTimeout(() => leaving.delete(cid), 5000);
    }
  }

  async function transferAdmin(cid, uid) {
    await api.transferAdmin(cid, uid);
    await refreshConversation(cid);
  }

  // ---- notifications -----------------------------------------------------

  async function loadNotifications() {
    const [list, count] = await Promise.all([api.notifications(), api.notificationCount()]);
    store.setNotifications(list);
    store.setNotificationUnread(count?.count ?? list.filter((n) => !n.is_read).length);
  }

  async function readNotification(n) {
    if (!n.is_read) {
      store.markNotificationRead(n.id);
      api.readNotification(n.id).catch(() => {});
    }
  }

  async function readAllNotifications() {
    store.markAllNotificationsRead();
    await api.readAllNotifications();
  }

  return {
    boot, signOut, reconnectNow, openConversation, closeConversation, loadOlder, loadLatest, markRead,
    send, retryPending, discardPending, typing, stopTyping, edit, remove, toggleReaction, jumpTo,
    sendFriendRequest, acceptRequest, rejectRequest, startDirect, searchUsers: (q) => api.searchUsers(q),
    createGroup, rename, addMember, kick, leave, transferAdmin, members: (cid) => api.members(cid),
    loadNotifications, readNotification, readAllNotifications, searchMessages: (q, cid) => api.searchMessages(q, cid),
    conversationTitle, otherMember, handleFrame,
    get socket() { return socket; },
  };
}
