// Server frames → store. One handler per frame type; anything the protocol may
// add later is ignored (pong, joined_conversation, resumed, ...).

export function createFrameHandler(core) {
  const { api, store, state, toast } = core;
  const conv = () => core.conversations;
  let connectedOnce = false;

  const handlers = {
    connected: onConnected,
    new_message: (f) => onNewMessage(f.message),
    ack: (f) => core.outbox.acked(f.client_msg_id, f.message),
    error: onErrorFrame,
    resync_required: (f) => conv().resync(f.conversation_id),
    message_edited: (f) => messageChanged(f.message),
    reaction_updated: (f) => messageChanged(f.message),
    message_deleted: (f) => messageDeleted(f.conversation_id, f.message_id),
    read_receipt: (f) => {
      if (f.user_id === state.me?.id) store.patchConversation(f.conversation_id, { unread_count: 0 });
      store.noteReceipt(f.conversation_id, f.user_id, { read: f.seq });
    },
    delivery_receipt: (f) => store.noteReceipt(f.conversation_id, f.user_id, { delivered: f.seq }),
    typing: (f) => {
      if (f.user_id !== state.me?.id) store.setTyping(f.conversation_id, f.user_id, f.username || 'Someone', !!f.is_typing);
    },
    viewers: (f) => store.setViewers(f.conversation_id, f.user_ids || []),
    user_online: (f) => store.setOnline(f.user_id, true),
    user_offline: (f) => store.setOnline(f.user_id, false, f.last_seen),
    conversation_created: (f) => {
      if (!f.conversation) return;
      // A conversation we left or were removed from comes back only if the server still lists us.
      if (state.removals.has(f.conversation.id)) conv().refresh(f.conversation.id);
      else store.upsertConversation(f.conversation);
    },
    conversation_updated: (f) => conversationUpdated(f.conversation),
    member_added: (f) => {
      if (f.new_user?.id === state.me?.id) toast(`${f.added_by?.username || 'Someone'} added you to a group`);
      conv().refresh(f.conversation_id);
    },
    member_kicked: (f) => conv().refresh(f.conversation_id),
    kicked_from_conversation: (f) => {
      const c = state.conversations.get(f.conversation_id);
      if (c && !core.leaving.has(f.conversation_id)) toast(f.message || `You were removed from ${c.name || 'a conversation'}`);
      store.removeConversation(f.conversation_id);
    },
    conversation_deleted: (f) => {
      // The group's admin deleted it: it leaves the list, and the screen if it was open.
      const c = state.conversations.get(f.conversation_id);
      if (!c) return;
      if (state.activeId === f.conversation_id) conv().close();
      store.removeConversation(f.conversation_id);
      if (f.deleted_by?.id !== state.me?.id && !core.leaving.has(f.conversation_id)) {
        toast(`${f.deleted_by?.username || 'The admin'} deleted ${c.name || 'a group'}`);
      }
    },
    friend_request: (f) => {
      if (!f.request) return;
      store.addRequest(f.request);
      toast(`${f.request.requester?.username || 'Someone'} sent you a friend request`);
    },
    friend_accepted: (f) => {
      if (f.user) {
        store.addFriend({ is_online: false, ...f.user });
        store.removeSentRequestTo(f.user.id);
        toast(`${f.user.username} accepted your friend request`);
      }
      return api.friends().then(store.setFriends).catch(() => {});
    },
    notification: (f) => f.notification && store.addNotification(f.notification),
  };

  function handleFrame(f) {
    return handlers[f.type]?.(f);
  }

  function onConnected() {
    if (state.activeId) core.socket.send({ type: 'join_conversation', conversation_id: state.activeId });
    core.outbox.flush();
    if (connectedOnce) {
      // Catch up on what is not replayed by resume: new conversations, presence, requests, notifications.
      api.conversations().then(store.setConversations).catch(() => {});
      api.friends().then(store.setFriends).catch(() => {});
      api.friendRequests().then(store.setRequests).catch(() => {});
      api.sentRequests().then(store.setSentRequests).catch(() => {});
      core.notifications.refreshNotificationCounts().catch(() => {});
      if (state.activeId) api.receipts(state.activeId).then((r) => store.setReceipts(state.activeId, r)).catch(() => {});
    }
    connectedOnce = true;
  }

  function onNewMessage(m) {
    if (!m) return;
    const cid = m.conversation_id;
    if (!state.conversations.has(cid)) conv().refresh(cid);
    const gap = state.cursors.see(cid, m.seq);
    const fresh = state.threads.has(cid) ? store.addMessages(cid, [m]) : [m];
    store.noteLiveMessage(m, { visible: conv().isVisible(cid) });
    if (m.sender_id !== state.me?.id) {
      core.socket?.send({ type: 'mark_delivered', conversation_id: cid, seq: m.seq });
      if (conv().isVisible(cid)) conv().markRead(cid);
      if (m.sender_id != null) store.setTyping(cid, m.sender_id, m.sender_username, false);
      if (fresh.length) store.emit('incoming', m);
    }
    if (gap) core.socket?.resume({ [String(cid)]: state.cursors.get(cid) });
  }

  function onErrorFrame(f) {
    if (core.outbox.rejected(f)) return;
    // Late answers about a conversation we already left are noise.
    if (f.conversation_id != null && !state.conversations.has(f.conversation_id)) return;
    if (f.code === 'rate_limited') toast('Slow down a little.', { error: true });
    else if (f.detail) toast(String(f.detail), { error: true });
  }

  function messageChanged(m) {
    if (!m) return;
    if (state.threads.has(m.conversation_id)) store.addMessages(m.conversation_id, [m]);
    const c = state.conversations.get(m.conversation_id);
    if (c?.last_message?.id === m.id) store.patchConversation(c.id, { last_message: { ...c.last_message, content: m.content } });
  }

  function messageDeleted(cid, mid) {
    const t = state.threads.get(cid);
    const m = t?.byId.get(mid);
    if (m) store.addMessages(cid, [{ ...m, deleted: true, content: '' }]);
    const c = state.conversations.get(cid);
    if (c?.last_message?.id === mid) store.patchConversation(cid, { last_message: { ...c.last_message, content: '', deleted: true } });
  }

  function conversationUpdated(c) {
    if (!c) return;
    if (state.conversations.has(c.id)) store.patchConversation(c.id, c);
    else conv().refresh(c.id);
    store.emit('members', c.id);
  }

  return {
    handleFrame,
    messageChanged,
    messageDeleted,
    reset() { connectedOnce = false; },
  };
}
