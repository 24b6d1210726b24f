// The open conversation: header (title, presence or last seen, who is viewing),
// message history (keyed rows in seq order, a "New messages" divider, infinite
// scroll upward that keeps the reading position, also across resizes) and a
// polite announcement of new messages for screen readers. The composer is
// composer.js.

import { $, el, avatar, dayKey, formatDay, timeAgo } from '../util.js';
import { renderMessage, messageKey, messageSignature } from './message.js';
import { mountComposer } from './composer.js';

export function mountChat({ store, controller, emojiPicker, onBack, openMembers }) {
  const { state } = store;
  const view = $('chat-view');
  const empty = $('chat-empty');
  const title = $('chat-title');
  const subtitle = $('chat-subtitle');
  const viewers = $('viewers');
  const scroller = $('message-scroller');
  const list = $('message-list');
  const historyStatus = $('history-status');
  const typingLine = $('typing-indicator');
  const announcer = $('announcer');
  const rows = new Map(); // key -> {sig, node}
  let renderedFor = null;
  let forceBottom = false;
  let anchor = { bottom: true }; // where the reader is, kept across layout changes
  let anchoredAt = ''; // the scroller size the anchor was last applied at
  let seekDivider = false; // just opened: start at "New messages" rather than the bottom

  scroller.style.overflowAnchor = 'none';

  const composer = mountComposer({ store, controller, emojiPicker, onSent: () => { forceBottom = true; renderMessages(); } });

  const ctx = {
    get api() { return controller.api; },
    avatarOf: (userId) => {
      const c = state.conversations.get(state.activeId);
      return (c?.members || []).find((m) => m.user?.id === userId)?.user?.avatar_url || null;
    },
    get meId() { return state.me?.id; },
    get me() { return state.me; },
    get isGroup() { return state.conversations.get(state.activeId)?.type === 'group'; },
    get members() {
      const c = state.conversations.get(state.activeId);
      return new Map((c?.members || []).map((m) => m.user).filter(Boolean).map((u) => [u.username.toLowerCase(), u]));
    },
    receiptFor: (m) => store.receiptFor(m.conversation_id, m.seq),
    findMessage: (id) => state.threads.get(state.activeId)?.byId.get(id) || null,
    showSender: (m) => ctx.isGroup && m.sender_id !== state.me?.id,
    onReply: (m) => composer.setMode({ type: 'reply', message: m }),
    onEdit: (m) => composer.setMode({ type: 'edit', message: m }),
    onDelete: (m) => {
      if (globalThis.confirm('Delete this message for everyone?')) controller.remove(m);
    },
    onReact: (m, emoji) => controller.toggleReaction(m, emoji),
    onMoreReactions: (m, button) => emojiPicker.open(button, (emoji) => controller.toggleReaction(m, emoji)),
    onRetry: (m) => controller.retryPending(m.client_msg_id),
    onDiscard: (m) => controller.discardPending(m.client_msg_id),
  };

  function renderHeader() {
    const c = state.conversations.get(state.activeId);
    if (!c) return;
    title.textContent = controller.conversationTitle(c);
    const face = c.type === 'direct' ? controller.otherMember(c) : null;
    $('chat-avatar').replaceChildren(avatar(title.textContent, { url: face ? face.avatar_url : c.avatar_url }));
    subtitle.replaceChildren();
    if (c.type === 'group') {
      const n = c.members?.length || c.member_ids?.length || 0;
      subtitle.append(`${n} member${n === 1 ? '' : 's'}`);
      if (c.context) subtitle.append(` · ${c.context.type}`);
    } else {
      const other = controller.otherMember(c);
      const online = other && state.online.has(other.id);
      const seen = other && state.lastSeen.get(other.id);
      subtitle.append(el('span', { class: 'presence', testid: 'chat-presence', 'data-online': online ? 'true' : 'false' },
        online ? 'online' : seen ? timeAgo(seen, { prefix: 'last seen ', testid: 'last-seen' }) : 'offline'));
    }
    renderViewers();
  }

  function renderViewers() {
    const c = state.conversations.get(state.activeId);
    const ids = (state.viewers.get(state.activeId) || []).filter((id) => id !== state.me?.id);
    const names = ids.map((id) => c?.members?.find((m) => m.user?.id === id)?.user?.username).filter(Boolean);
    viewers.hidden = !names.length;
    viewers.setAttribute('aria-label', names.length ? `Viewing now: ${names.join(', ')}` : 'Viewing now');
    viewers.replaceChildren(...names.map((name) => {
      const a = avatar(name);
      a.classList.add('small');
      a.removeAttribute('aria-hidden');
      a.setAttribute('role', 'img');
      a.setAttribute('aria-label', name);
      a.title = `${name} is viewing`;
      a.dataset.testid = 'viewer';
      return a;
    }));
  }

  function isAtBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  /** Remembers the first visible row (or "at the bottom") so a relayout can put the reader back. */
  function rememberPosition() {
    if (!scroller.clientHeight) return; // hidden (phone layout, other pane): nothing to remember
    // A resize not yet handled: scrollTop still belongs to the old layout (a clamp's scroll event
    // or a render can come before the ResizeObserver), so the old anchor holds: apply it instead.
    if (sizeKey() !== anchoredAt) { restorePosition(); return; }
    if (isAtBottom()) { anchor = { bottom: true }; return; }
    for (const node of list.children) {
      if (node.offsetTop + node.offsetHeight > scroller.scrollTop) {
        anchor = { node, offset: node.offsetTop - scroller.scrollTop };
        return;
      }
    }
  }

  function restorePosition() {
    if (anchor.bottom) scroller.scrollTop = scroller.scrollHeight;
    else if (anchor.node?.isConnected) scroller.scrollTop = anchor.node.offsetTop - anchor.offset;
    if (scroller.clientHeight) anchoredAt = sizeKey();
  }

  function sizeKey() {
    return `${scroller.clientWidth}x${scroller.clientHeight}`;
  }

  function rowFor(key, make) {
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { sig: '', node: make() }));
    return row.node;
  }

  function renderMessages() {
    const cid = state.activeId;
    if (cid == null) return;
    const t = store.thread(cid);
    if (renderedFor !== cid) {
      rows.clear();
      list.replaceChildren();
      renderedFor = cid;
      forceBottom = true;
      seekDivider = true;
    }
    if (forceBottom) anchor = { bottom: true };
    else rememberPosition();

    const items = [
      ...t.sorted(),
      ...store.pendingFor(cid).sort((a, b) => a.created_at.localeCompare(b.created_at))
        .map((p) => ({ ...p, pending: true, sender_id: state.me?.id, sender_username: state.me?.username, reactions: {} })),
    ];
    const divider = state.dividers.get(cid);
    const nodes = [];
    const keep = new Set();
    let lastDay = null;
    let dividerPlaced = false;
    for (const m of items) {
      const day = dayKey(m.created_at);
      if (day !== lastDay) {
        keep.add(`d:${day}`);
        nodes.push(rowFor(`d:${day}`, () => el('li', { class: 'day-sep' }, formatDay(m.created_at))));
        lastDay = day;
      }
      if (divider && !dividerPlaced && !m.pending && m.seq >= divider && m.sender_id !== state.me?.id) {
        dividerPlaced = true;
        keep.add('unread');
        nodes.push(rowFor('unread', () => el('li', { class: 'unread-divider', testid: 'unread-divider' }, el('span', {}, 'New messages'))));
        if (seekDivider) { anchor = { node: nodes[nodes.length - 1], offset: 24 }; seekDivider = false; }
      }
      const key = messageKey(m);
      keep.add(key);
      const sig = messageSignature(m, ctx);
      let row = rows.get(key);
      if (!row || row.sig !== sig) {
        const node = renderMessage(m, ctx);
        if (row && row.node.contains(document.activeElement)) queueMicrotask(() => node.querySelector('.bubble')?.focus());
        row = { sig, node };
        rows.set(key, row);
      }
      nodes.push(row.node);
    }
    for (const key of [...rows.keys()]) if (!keep.has(key)) rows.delete(key);
    // Only touch the DOM where the order differs.
    let i = 0;
    for (const node of nodes) {
      const current = list.children[i];
      if (current !== node) list.insertBefore(node, current || null);
      i += 1;
    }
    while (list.children.length > nodes.length) list.lastElementChild.remove();

    restorePosition();
    forceBottom = false;
    renderHistoryStatus();
    fillViewport();
  }

  function renderHistoryStatus() {
    const t = state.threads.get(state.activeId);
    if (!t) { historyStatus.textContent = ''; return; }
    const hasAny = t.bySeq.size > 0 || store.pendingFor(state.activeId).length > 0;
    let text = '';
    if (t.loading) text = 'Loading messages…';
    else if (t.loaded && !t.hasMore) text = hasAny ? 'Beginning of the conversation' : 'No messages yet. Say hello!';
    if (historyStatus.textContent !== text) historyStatus.textContent = text;
    historyStatus.dataset.state = t.loading ? 'loading' : t.hasMore ? 'more' : 'start';
  }

  /** When the history does not fill the screen, keep loading older pages. */
  function fillViewport() {
    const cid = state.activeId;
    const t = state.threads.get(cid);
    if (t && t.loaded && t.hasMore && !t.loading && scroller.clientHeight && scroller.scrollHeight <= scroller.clientHeight + 40) {
      controller.loadOlder(cid);
    }
  }

  scroller.addEventListener('scroll', () => {
    rememberPosition();
    if (scroller.scrollTop < 200 && state.activeId != null) controller.loadOlder(state.activeId);
    if (isAtBottom()) controller.markRead(state.activeId);
  }, { passive: true });
  // A narrower window (phone width) rewraps every bubble: put the reader back where they were.
  new ResizeObserver(() => { if (scroller.clientHeight) restorePosition(); }).observe(scroller);

  function renderTyping() {
    const names = store.typingNames(state.activeId);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    if (typingLine.textContent !== text) typingLine.textContent = text;
    typingLine.dataset.active = names.length ? 'true' : 'false';
  }

  function announce(m) {
    const c = state.conversations.get(m.conversation_id);
    const who = m.sender_username || 'Someone';
    const text = m.conversation_id === state.activeId
      ? `${who}: ${m.deleted ? 'message deleted' : m.content}`
      : `New message from ${who}${c?.type === 'group' ? ` in ${controller.conversationTitle(c)}` : ''}`;
    announcer.append(el('p', {}, text));
    while (announcer.children.length > 5) announcer.firstElementChild.remove();
  }

  function show() {
    const cid = state.activeId;
    const active = cid != null && state.conversations.has(cid);
    view.hidden = !active;
    empty.hidden = active;
    if (!active) { renderedFor = null; return; }
    if (renderedFor !== cid) composer.switchTo(cid);
    const c = state.conversations.get(cid);
    $('members-button').setAttribute('aria-label', c.type === 'group' ? 'Group details and members' : 'Conversation details');
    renderHeader();
    renderMessages();
    renderTyping();
  }

  $('back-button').addEventListener('click', onBack);
  $('members-button').addEventListener('click', openMembers);
  store.on('active', show);
  store.on('conversations', () => { if (state.activeId != null) renderHeader(); });
  store.on('presence', () => { if (state.activeId != null) renderHeader(); });
  store.on('viewers', (cid) => { if (cid === state.activeId) renderViewers(); });
  store.on('messages', (cid) => { if (cid === state.activeId) renderMessages(); });
  store.on('receipts', (cid) => { if (cid === state.activeId) renderMessages(); });
  store.on('history', (cid) => { if (cid === state.activeId) renderHistoryStatus(); });
  store.on('typing', (cid) => { if (cid === state.activeId) renderTyping(); });
  store.on('incoming', announce);
  store.on('highlight', ({ conversationId, seq }) => {
    if (conversationId !== state.activeId) return;
    const node = list.querySelector(`[data-seq="${Number(seq)}"]`);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    rememberPosition();
    node.classList.add('highlight');
    node.querySelector('.bubble')?.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('highlight'), 2500);
  });

  return { show, focusInput: () => composer.focus(), get composerMode() { return composer.mode; } };
}
