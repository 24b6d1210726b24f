// Application state with no DOM: conversations, message threads (deduplicated
// by (conversation_id, seq), rendered in seq order), pending sends, resume
// cursors, friends, presence, typing, receipts, notifications. Views subscribe
// to topics and re-render what changed.

import { BUILT_IN_FILTERS, notificationMethods } from './notifications.js';
import { blockMethods } from './people.js';
import { Cursors } from './cursors.js';

export { Cursors };

export class Thread {
  constructor(conversationId) {
    this.conversationId = conversationId;
    this.bySeq = new Map();
    this.byId = new Map();
    this.loaded = false; // the latest page has been fetched
    this.loading = false;
    this.hasMore = true; // older pages may exist
  }

  /** Adds or updates one message. Returns 'new', 'updated' or 'duplicate'. */
  upsert(msg) {
    const existing = this.bySeq.get(msg.seq);
    if (existing) {
      if (sameMessage(existing, msg)) return 'duplicate';
      const merged = { ...existing, ...msg };
      this.bySeq.set(msg.seq, merged);
      this.byId.set(merged.id, merged);
      return 'updated';
    }
    this.bySeq.set(msg.seq, msg);
    this.byId.set(msg.id, msg);
    return 'new';
  }

  get minSeq() {
    let min = Infinity;
    for (const s of this.bySeq.keys()) if (s < min) min = s;
    return min === Infinity ? null : min;
  }

  get maxSeq() {
    let max = 0;
    for (const s of this.bySeq.keys()) if (s > max) max = s;
    return max;
  }

  sorted() {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
}

function sameMessage(a, b) {
  return a.id === b.id && a.content === b.content && a.edited_at === b.edited_at && a.deleted === b.deleted
    && JSON.stringify(a.reactions || {}) === JSON.stringify(b.reactions || {});
}

export function conversationActivity(c) {
  return c.last_message?.created_at || c.created_at || '';
}

export function sortConversations(list) {
  return [...list].sort((a, b) => {
    const ta = Date.parse(conversationActivity(a)) || 0;
    const tb = Date.parse(conversationActivity(b)) || 0;
    return tb - ta || b.id - a.id;
  });
}

export function createStore() {
  const listeners = new Map();
  const state = {
    me: null,
    connection: 'offline',
    conversations: new Map(),
    activeId: null,
    threads: new Map(),
    removals: new Map(), // conversation id -> times removed (stale fetches must not bring it back)
    pending: new Map(), // client_msg_id -> {client_msg_id, conversation_id, content, reply_to, status, created_at}
    cursors: new Cursors(),
    friends: new Map(),
    online: new Set(),
    requests: [],
    sentRequests: [], // friend requests I sent that are still pending
    lastSeen: new Map(), // user id -> ISO time the user was last online (from user_offline / presence)
    viewers: new Map(), // cid -> user ids looking at it now (from `viewers` frames)
    dividers: new Map(), // cid -> seq of the first message that was unread when I opened it
    typing: new Map(), // cid -> Map(user_id -> {username, expires})
    receipts: new Map(), // cid -> Map(user_id -> {read, delivered})
    notifications: [], // the notifications page: the current filter's newest first
    notificationFilter: BUILT_IN_FILTERS[0],
    notificationsMore: false, // older ones exist under the current filter
    notificationCounts: {}, // unread per type (GET /notifications/unread-count → by_type)
    notificationUnread: 0,
  };

  function on(topic, fn) {
    if (!listeners.has(topic)) listeners.set(topic, new Set());
    listeners.get(topic).add(fn);
    return () => listeners.get(topic).delete(fn);
  }
  function emit(topic, arg) {
    for (const fn of listeners.get(topic) || []) fn(arg);
  }

  const store = {
    state,
    on,
    emit,

    setMe(me) { state.me = me; emit('me'); },
    setConnection(s) { state.connection = s; emit('connection'); },

    // conversations
    setConversations(list) {
      const incoming = new Map(list.map((c) => [c.id, c]));
      for (const id of [...state.conversations.keys()]) if (!incoming.has(id)) state.conversations.delete(id);
      for (const c of list) store.upsertConversation(c, { silent: true });
      emit('conversations');
    },
    upsertConversation(c, { silent = false } = {}) {
      const prev = state.conversations.get(c.id);
      const merged = prev ? { ...prev, ...c } : { unread_count: 0, last_seq: 0, ...c };
      // Never move backwards: a stale list must not undo a live message.
      if (prev && (prev.last_seq || 0) > (c.last_seq || 0)) {
        merged.last_seq = prev.last_seq;
        merged.last_message = prev.last_message;
      }
      if (c.id === state.activeId) merged.unread_count = 0;
      state.conversations.set(c.id, merged);
      state.cursors.raise(c.id, merged.last_seq || 0);
      if (!silent) emit('conversations');
      return merged;
    },
    patchConversation(id, patch) {
      const c = state.conversations.get(id);
      if (!c) return null;
      Object.assign(c, patch);
      emit('conversations');
      if (id === state.activeId) emit('active');
      return c;
    },
    removeConversation(id) {
      state.removals.set(id, (state.removals.get(id) || 0) + 1);
      state.conversations.delete(id);
      state.threads.delete(id);
      if (state.activeId === id) { state.activeId = null; emit('active'); }
      emit('conversations');
    },
    sortedConversations() {
      return sortConversations([...state.conversations.values()]);
    },
    setActive(id) {
      state.activeId = id;
      emit('active');
      emit('conversations');
    },
    totalUnread() {
      let n = 0;
      for (const c of state.conversations.values()) n += c.unread_count || 0;
      return n;
    },

    // messages
    thread(cid) {
      let t = state.threads.get(cid);
      if (!t) state.threads.set(cid, (t = new Thread(cid)));
      return t;
    },
    /**
     * Adds messages from a page or live frame. Confirms pending sends that
     * match by client_msg_id. Returns the messages that were new.
     */
    addMessages(cid, msgs) {
      const t = store.thread(cid);
      const fresh = [];
      let changed = false;
      for (const m of msgs) {
        const r = t.upsert(m);
        if (r === 'new') fresh.push(m);
        if (r !== 'duplicate') changed = true;
        if (m.client_msg_id && state.pending.has(m.client_msg_id) && m.sender_id === state.me?.id) {
          state.pending.delete(m.client_msg_id);
          changed = true;
          emit('pending');
        }
      }
      if (changed) emit('messages', cid);
      return fresh;
    },
    /** Applies a live message to the conversation summary: last message, unread count, order. */
    noteLiveMessage(m, { visible }) {
      const c = state.conversations.get(m.conversation_id);
      if (!c) return;
      if (m.seq > (c.last_seq || 0)) {
        c.last_seq = m.seq;
        c.last_message = { id: m.id, seq: m.seq, content: m.content, sender_id: m.sender_id, created_at: m.created_at, type: m.type, kind: m.kind };
        if (m.sender_id !== state.me?.id && !visible) c.unread_count = (c.unread_count || 0) + 1;
      } else if (c.last_message?.id === m.id) {
        c.last_message = { ...c.last_message, content: m.content, deleted: !!m.deleted };
      }
      emit('conversations');
    },
    resetThread(cid) {
      const t = new Thread(cid);
      state.threads.set(cid, t);
      return t;
    },

    // pending sends
    addPending(p) { state.pending.set(p.client_msg_id, p); emit('pending'); emit('messages', p.conversation_id); },
    updatePending(id, patch) {
      const p = state.pending.get(id);
      if (!p) return;
      Object.assign(p, patch);
      emit('pending');
      emit('messages', p.conversation_id);
    },
    removePending(id) {
      const p = state.pending.get(id);
      if (!p) return;
      state.pending.delete(id);
      emit('pending');
      emit('messages', p.conversation_id);
    },
    pendingFor(cid) {
      return [...state.pending.values()].filter((p) => p.conversation_id === cid);
    },

    // friends and presence
    setFriends(list) {
      state.friends = new Map(list.map((f) => [f.id, f]));
      for (const f of list) if (f.is_online) state.online.add(f.id); else state.online.delete(f.id);
      emit('friends');
    },
    addFriend(f) { state.friends.set(f.id, f); emit('friends'); },
    removeFriend(id) { state.friends.delete(id); emit('friends'); },
    setOnline(uid, online, lastSeen) {
      if (online) state.online.add(uid); else state.online.delete(uid);
      if (!online && lastSeen) state.lastSeen.set(uid, lastSeen);
      emit('friends');
      emit('conversations');
      emit('presence', uid);
    },
    setRequests(list) { state.requests = list; emit('requests'); },
    addRequest(r) {
      if (!state.requests.some((x) => x.id === r.id)) state.requests = [...state.requests, r];
      emit('requests');
    },
    removeRequest(id) { state.requests = state.requests.filter((r) => r.id !== id); emit('requests'); },
    setSentRequests(list) { state.sentRequests = list; emit('requests'); },
    removeSentRequestTo(uid) {
      state.sentRequests = state.sentRequests.filter((r) => r.receiver?.id !== uid);
      emit('requests');
    },
    /** How I relate to a user: 'me', 'friend', 'sent' (my request pending), 'received' (theirs pending) or 'none'. */
    relationTo(uid) {
      if (uid === state.me?.id) return { kind: 'me' };
      if (state.friends.has(uid)) return { kind: 'friend' };
      const sent = state.sentRequests.find((r) => r.receiver?.id === uid);
      if (sent) return { kind: 'sent', request: sent };
      const received = state.requests.find((r) => r.requester?.id === uid);
      if (received) return { kind: 'received', request: received };
      return { kind: 'none' };
    },

    // who is looking at a conversation, and where its unread part began
    setViewers(cid, ids) { state.viewers.set(cid, ids); emit('viewers', cid); },
    setDivider(cid, seq) {
      if (seq && seq > 0) state.dividers.set(cid, seq); else state.dividers.delete(cid);
    },

    // typing
    setTyping(cid, uid, username, isTyping, now = Date.now()) {
      let m = state.typing.get(cid);
      if (!m) state.typing.set(cid, (m = new Map()));
      if (isTyping) m.set(uid, { username, expires: now + 5000 });
      else m.delete(uid);
      emit('typing', cid);
    },
    expireTyping(now = Date.now()) {
      for (const [cid, m] of state.typing) {
        let changed = false;
        for (const [uid, t] of m) if (t.expires <= now) { m.delete(uid); changed = true; }
        if (changed) emit('typing', cid);
      }
    },
    typingNames(cid) {
      return [...(state.typing.get(cid)?.values() || [])].map((t) => t.username);
    },

    // receipts
    setReceipts(cid, list) {
      const m = new Map();
      for (const r of list) m.set(r.user_id, { read: r.last_read_seq || 0, delivered: r.last_delivered_seq || 0 });
      state.receipts.set(cid, m);
      emit('receipts', cid);
    },
    noteReceipt(cid, uid, { read, delivered }) {
      let m = state.receipts.get(cid);
      if (!m) state.receipts.set(cid, (m = new Map()));
      const r = m.get(uid) || { read: 0, delivered: 0 };
      if (read != null) r.read = Math.max(r.read, read);
      if (delivered != null) r.delivered = Math.max(r.delivered, delivered);
      r.delivered = Math.max(r.delivered, r.read);
      m.set(uid, r);
      emit('receipts', cid);
    },
    /** Read state of one of my messages: how many others have read / received it. */
    receiptFor(cid, seq) {
      const m = state.receipts.get(cid);
      let read = 0;
      let delivered = 0;
      if (m) {
        for (const [uid, r] of m) {
          if (uid === state.me?.id) continue;
          if (r.read >= seq) read += 1;
          if (Math.max(r.delivered, r.read) >= seq) delivered += 1;
        }
      }
      return { read, delivered };
    },

    // notifications (notifications.js)
    ...notificationMethods(state, emit),
    ...blockMethods(state, emit), // people.js: state.blocked

    reset() {
      state.me = null;
      state.conversations.clear();
      state.threads.clear();
      state.pending.clear();
      state.cursors = new Cursors();
      state.friends.clear();
      state.blocked.clear();
      state.online.clear();
      state.requests = [];
      state.sentRequests = [];
      state.lastSeen.clear();
      state.viewers.clear();
      state.dividers.clear();
      state.typing.clear();
      state.receipts.clear();
      state.notifications = [];
      state.notificationFilter = BUILT_IN_FILTERS[0];
      state.notificationsMore = false;
      state.notificationCounts = {};
      state.notificationUnread = 0;
      state.activeId = null;
      state.connection = 'offline';
      emit('reset');
      for (const topic of ['active', 'conversations', 'friends', 'blocks', 'requests', 'notifications', 'connection', 'me']) emit(topic);
    },
  };
  return store;
}
