// The controller between the API, the socket and the store. It only wires the
// parts together and owns the session (boot, sign-out); the parts are:
//   controller/frames.js         server frames → store
//   controller/outbox.js         optimistic sends, retried with the same client_msg_id
//   controller/conversations.js  the open conversation, history pages, read cursor
//   controller/typing.js         our own typing signal
//   controller/actions.js        what the user does: message actions, friends, groups, account
//   controller/notifications.js  the notifications page: filters, pages, read, delete, counts
//   controller/account.js        address change and confirmation, sessions, delete account, export
// Each part gets the same `core` object, so they reach each other without import cycles.

import { ChatSocket, socketUrl } from './socket.js';
import { createOutbox } from './controller/outbox.js';
import { createConversations } from './controller/conversations.js';
import { createFrameHandler } from './controller/frames.js';
import { createTyping } from './controller/typing.js';
import { createActions } from './controller/actions.js';
import { createNotifications } from './controller/notifications.js';
import { createAccount } from './controller/account.js';

export function createController({ api, store, apiBase = '', toast = () => {}, isPageVisible = () => true, storage = globalThis.localStorage, onSignedOut = () => {}, WebSocketImpl }) {
  const { state } = store;
  const core = {
    api, store, state, toast, storage, isPageVisible,
    socket: null,
    leaving: new Set(), // conversations being left on purpose (no "you were removed" toast)
  };
  core.typing = createTyping(core);
  core.outbox = createOutbox(core);
  core.conversations = createConversations(core);
  core.frames = createFrameHandler(core);
  core.actions = createActions(core);
  core.notifications = createNotifications(core);
  let typingSweep = null;
  let outboxWired = false;

  async function boot() {
    store.setMe(await api.me());
    core.outbox.restore();
    const [convs] = await Promise.all([api.conversations(), core.actions.loadRelations()]);
    store.setConversations(convs);
    core.notifications.loadNotifications().catch(() => {});
    core.socket = new ChatSocket({
      url: socketUrl(apiBase),
      getToken: () => api.accessToken,
      refreshToken: () => api.refresh(),
      getCursors: () => state.cursors.forResume(),
      onFrame: core.frames.handleFrame,
      onStatus: (s) => store.setConnection(s),
      onAuthLost: () => signOut({ expired: true }),
      ...(WebSocketImpl ? { WebSocketImpl } : {}),
    });
    core.socket.start();
    typingSweep = setInterval(() => store.expireTyping(), 1000);
    if (!outboxWired) store.on('pending', core.outbox.save);
    outboxWired = true;
  }

  /** `expired`: the session is gone already (no logout call); `message` for the sign-in screen. */
  async function signOut({ expired = false, message } = {}) {
    core.socket?.stop();
    core.socket = null;
    core.frames.reset();
    clearInterval(typingSweep);
    core.outbox.stop();
    if (!expired) await api.logout();
    else api.clearTokens();
    store.reset();
    onSignedOut({ expired, message });
  }
  core.account = createAccount(core, { signOut });

  const c = core.conversations;
  const o = core.outbox;
  return {
    boot, signOut, reconnectNow: () => core.socket?.kick(),
    openConversation: c.open, closeConversation: c.close, loadOlder: c.loadOlder, loadLatest: c.loadLatest,
    markRead: c.markRead, jumpTo: c.jumpTo, conversationTitle: c.title, otherMember: c.otherMember,
    send: o.send, retryPending: o.retry, discardPending: o.discard,
    typing: core.typing.typing, stopTyping: core.typing.stop,
    ...core.actions,
    ...core.notifications,
    ...core.account,
    searchUsers: (q) => api.searchUsers(q),
    uploadAttachment: (file, options) => api.uploadAttachment(file, options),
    get api() { return api; },
    members: (cid) => api.members(cid),
    searchMessages: (q, cid) => api.searchMessages(q, cid),
    handleFrame: core.frames.handleFrame,
    get socket() { return core.socket; },
  };
}
