// What the user does outside sending: edit, delete and react to messages; friends,
// requests (incoming and sent), unfriend and blocks; groups (their picture too); account
// (notification preferences and push devices included). The notifications page is notifications.js.

import { ApiError } from '../api.js';
import { errorText, uuid } from '../util.js';

export function createActions(core) {
  const { api, store, state, toast } = core;
  const conv = () => core.conversations;

  // ---- messages ----
  async function edit(msg, content) {
    const text = content.trim();
    if (!text || text === msg.content) return;
    try {
      core.frames.messageChanged(await api.editMessage(msg.id, text));
    } catch (e) { toast(`Could not edit: ${errorText(e)}`, { error: true }); }
  }

  async function remove(msg) {
    try {
      await api.deleteMessage(msg.id);
      core.frames.messageDeleted(msg.conversation_id, msg.id);
    } catch (e) { toast(`Could not delete: ${errorText(e)}`, { error: true }); }
  }

  async function toggleReaction(msg, emoji) {
    const mine = (msg.reactions?.[emoji] || []).includes(state.me?.id);
    try {
      core.frames.messageChanged(await (mine ? api.removeReaction(msg.id, emoji) : api.addReaction(msg.id, emoji)));
    } catch (e) { toast(`Could not react: ${errorText(e)}`, { error: true }); }
  }

  // ---- friends ----
  async function loadRelations() {
    const [friends, requests, sent] = await Promise.all([
      api.friends(), api.friendRequests(), api.sentRequests(), loadBlocks().catch(() => {}),
    ]);
    store.setFriends(friends);
    store.setRequests(requests);
    store.setSentRequests(sent);
  }

  async function loadBlocks() {
    store.setBlocked(await api.blocks());
  }

  async function sendFriendRequest(username) {
    try {
      const r = await api.sendFriendRequest(username);
      toast(r?.message || 'Friend request sent');
    } finally {
      // Whatever the answer (sent, "already sent", "already friends"), show the state as it is now.
      await loadRelations().catch(() => {});
    }
  }

  async function cancelRequest(rid) {
    try {
      await api.cancelRequest(rid);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e; // already answered: just refresh
    }
    await loadRelations();
  }

  /** Accepts or rejects; a request its sender withdrew meanwhile is dropped with a word. */
  async function answerRequest(rid, accept) {
    try {
      await (accept ? api.acceptRequest(rid) : api.rejectRequest(rid));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) toast('That request was withdrawn.');
      else throw e;
    }
    store.removeRequest(rid);
    await loadRelations().catch(() => {});
  }

  async function startDirect(uid) {
    const c = store.upsertConversation(await api.openDirect(uid));
    await conv().open(c.id);
    return c;
  }

  /**
   * Writes to a friend without opening the chat (POST /messages with recipient_id: the server
   * opens the direct conversation on first use). The answer goes through the same path as a
   * live message, so the list shows the chat (back, if it was hidden) with this preview.
   */
  async function sendTo(uid, content) {
    const text = content.trim();
    if (!text) return null;
    const m = await api.sendMessage({ recipient_id: uid, content: text, client_msg_id: uuid() });
    if (m) core.frames.handleFrame({ type: 'new_message', message: m });
    return m;
  }

  /** A direct chat is hidden from my list (until a new message); a group is deleted for all (admin). */
  async function hideOrDelete(cid) {
    core.leaving.add(cid);
    try {
      await api.hideOrDelete(cid);
      if (state.activeId === cid) conv().close();
      store.removeConversation(cid);
    } finally {
      setTimeout(() => core.leaving.delete(cid), 5000);
    }
  }

  // ---- unfriend and blocks (the store changes at once; the lists are then read again) ----
  async function removeFriend(uid) {
    await api.removeFriend(uid);
    store.removeFriend(uid);
    await loadRelations().catch(() => {});
  }

  /** Blocking also ends the friendship and any pending request between us (server side). */
  async function block(user) {
    await api.block(user.id);
    store.addBlocked({ id: user.id, username: user.username });
    store.removeFriend(user.id);
    store.emit('active'); // a direct chat with them shows the notice
    await loadRelations().catch(() => {});
  }

  async function unblock(uid) {
    try {
      await api.unblock(uid);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e; // unblocked elsewhere already
    }
    store.removeBlocked(uid);
    store.emit('active');
  }

  // ---- groups ----
  async function createGroup(name, memberIds) {
    const c = store.upsertConversation(await api.createGroup(name, memberIds));
    await conv().open(c.id);
    return c;
  }

  async function rename(cid, name) {
    store.upsertConversation(await api.rename(cid, name));
    store.emit('active');
  }

  /** A group's picture (admins); onProgress(fraction) while the bytes go out. */
  async function setGroupAvatar(cid, file, onProgress) {
    store.upsertConversation(await api.setGroupAvatar(cid, file, { onProgress }).promise);
    store.emit('active');
  }

  async function removeGroupAvatar(cid) {
    store.upsertConversation(await api.removeGroupAvatar(cid));
    store.emit('active');
  }

  async function addMember(cid, uid) {
    await api.addMember(cid, uid);
    await conv().refresh(cid);
  }

  async function kick(cid, uid) {
    await api.kick(cid, uid);
    await conv().refresh(cid);
  }

  async function leave(cid) {
    core.leaving.add(cid);
    try {
      await api.leave(cid);
      if (state.activeId === cid) conv().close();
      store.removeConversation(cid);
    } finally {
      setTimeout(() => core.leaving.delete(cid), 5000);
    }
  }

  async function transferAdmin(cid, uid) {
    await api.transferAdmin(cid, uid);
    await conv().refresh(cid);
  }

  // ---- account ----
  async function updateProfile(fields) {
    store.setMe({ ...state.me, ...(await api.updateMe(fields)) });
  }

  async function setAvatar(file) {
    store.setMe({ ...state.me, ...(await api.setAvatar(file)) });
  }

  async function removeAvatar() {
    store.setMe({ ...state.me, ...(await api.removeAvatar()) });
  }

  return {
    edit, remove, toggleReaction,
    loadRelations, sendFriendRequest, cancelRequest, acceptRequest: (rid) => answerRequest(rid, true),
    rejectRequest: (rid) => answerRequest(rid, false), startDirect, sendTo, hideOrDelete,
    loadBlocks, removeFriend, block, unblock,
    createGroup, rename, setGroupAvatar, removeGroupAvatar, addMember, kick, leave, transferAdmin,
    updateProfile, setAvatar, removeAvatar,
    changePassword: (current, next) => api.changePassword(current, next),
    preferences: () => api.preferences(),
    savePreferences: (prefs) => api.savePreferences(prefs),
    webPushKey: () => api.webPushKey(),
    registerDevice: (body) => api.registerDevice(body),
    deleteDevice: (did) => api.deleteDevice(did),
  };
}
