// The open conversation: header, message history (keyed rows, seq order,
// infinite scroll upward that keeps the reading position), typing line and
// composer (Enter sends, Shift+Enter newline, Escape cancels reply/edit).

import { $, el, dayKey, formatDay } from '../util.js';
import { renderMessage, messageKey, messageSignature } from './message.js';

export function mountChat({ store, controller, onBack, openMembers }) {
  const { state } = store;
  const view = $('chat-view');
  const empty = $('chat-empty');
  const title = $('chat-title');
  const subtitle = $('chat-subtitle');
  const scroller = $('message-scroller');
  const list = $('message-list');
  const historyStatus = $('history-status');
  const typingLine = $('typing-indicator');
  const form = $('composer');
  const input = $('message-input');
  const replyBar = $('reply-preview');
  const replyText = $('reply-preview-text');
  const rows = new Map(); // key -> {sig, node}
  let mode = null; // {type: 'reply'|'edit', message}
  let renderedFor = null;
  let forceBottom = false;
  const drafts = new Map();

  scroller.style.overflowAnchor = 'none';

  const ctx = {
    get meId() { return state.me?.id; },
    get isGroup() { return state.conversations.get(state.activeId)?.type === 'group'; },
    receiptFor: (m) => store.receiptFor(m.conversation_id, m.seq),
    findMessage: (id) => state.threads.get(state.activeId)?.byId.get(id) || null,
    showSender: (m) => ctx.isGroup && m.sender_id !== state.me?.id,
    onReply: (m) => setMode({ type: 'reply', message: m }),
    onEdit: (m) => setMode({ type: 'edit', message: m }),
    onDelete: (m) => {
      if (globalThis.confirm('Delete this message for everyone?')) controller.remove(m);
    },
    onReact: (m, emoji) => controller.toggleReaction(m, emoji),
    onRetry: (m) => controller.retryPending(m.client_msg_id),
    onDiscard: (m) => controller.discardPending(m.client_msg_id),
  };

  function renderHeader() {
    const c = state.conversations.get(state.activeId);
    if (!c) return;
    title.textContent = controller.conversationTitle(c);
    subtitle.replaceChildren();
    if (c.type === 'group') {
      const n = c.members?.length || c.member_ids?.length || 0;
      subtitle.append(`${n} member${n === 1 ? '' : 's'}`);
      if (c.context) subtitle.append(` · ${c.context.type}`);
    } else {
      const other = controller.otherMember(c);
      const online = other && state.online.has(other.id);
      subtitle.append(el('span', { class: 'presence', testid: 'chat-presence', 'data-online': online ? 'true' : 'false' }, online ? 'online' : 'offline'));
    }
  }

  function isAtBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
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
    }
    const atBottom = forceBottom || isAtBottom();
    // Remember the first visible row so prepending older pages keeps the reader in place.
    let anchor = null;
    let anchorTop = 0;
    if (!atBottom) {
      for (const node of list.children) {
        if (node.offsetTop + node.offsetHeight > scroller.scrollTop) { anchor = node; anchorTop = node.offsetTop; break; }
      }
    }

    const items = [
      ...t.sorted(),
      ...store.pendingFor(cid).sort((a, b) => a.created_at.localeCompare(b.created_at))
        .map((p) => ({ ...p, pending: true, sender_id: state.me?.id, sender_username: state.me?.username, reactions: {} })),
    ];
    const nodes = [];
    const keep = new Set();
    let lastDay = null;
    for (const m of items) {
      const day = dayKey(m.created_at);
      if (day !== lastDay) {
        const key = `d:${day}`;
        keep.add(key);
        let row = rows.get(key);
        if (!row) rows.set(key, (row = { sig: '', node: el('li', { class: 'day-sep', role: 'separator' }, formatDay(m.created_at)) }));
        nodes.push(row.node);
        lastDay = day;
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
    // Only touch the DOM where the order differs, so screen readers announce just the additions.
    let i = 0;
    for (const node of nodes) {
      const current = list.children[i];
      if (current !== node) list.insertBefore(node, current || null);
      i += 1;
    }
    while (list.children.length > nodes.length) list.lastElementChild.remove();

    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
    else if (anchor && anchor.isConnected) scroller.scrollTop += anchor.offsetTop - anchorTop;
    forceBottom = false;
    fillViewport();
  }

  function renderHistoryStatus() {
    const t = state.threads.get(state.activeId);
    if (!t) { historyStatus.textContent = ''; return; }
    if (t.loading) historyStatus.textContent = 'Loading messages…';
    else if (t.loaded && !t.hasMore) historyStatus.textContent = t.bySeq.size ? 'Beginning of the conversation' : 'No messages yet. Say hello!';
    else historyStatus.textContent = '';
    historyStatus.dataset.state = t.loading ? 'loading' : t.hasMore ? 'more' : 'start';
  }

  /** When the history does not fill the screen, keep loading older pages. */
  function fillViewport() {
    const cid = state.activeId;
    const t = state.threads.get(cid);
    if (t && t.loaded && t.hasMore && !t.loading && scroller.scrollHeight <= scroller.clientHeight + 40) {
      controller.loadOlder(cid);
    }
  }

  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 200 && state.activeId != null) controller.loadOlder(state.activeId);
    if (isAtBottom()) controller.markRead(state.activeId);
  }, { passive: true });

  function renderTyping() {
    const names = store.typingNames(state.activeId);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    if (typingLine.textContent !== text) typingLine.textContent = text;
    typingLine.dataset.active = names.length ? 'true' : 'false';
  }

  function setMode(next) {
    const wasEdit = mode?.type === 'edit';
    mode = next;
    if (!mode) {
      replyBar.hidden = true;
      if (wasEdit) input.value = drafts.get(state.activeId) || '';
    } else if (mode.type === 'reply') {
      replyBar.hidden = false;
      replyText.textContent = `Replying to ${mode.message.sender_username}: ${mode.message.content}`;
    } else {
      drafts.set(state.activeId, input.value);
      replyBar.hidden = false;
      replyText.textContent = 'Editing message';
      input.value = mode.message.content;
    }
    replyBar.dataset.mode = mode?.type || '';
    autoresize();
    input.focus();
  }

  function autoresize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  function submit() {
    const cid = state.activeId;
    if (cid == null) return;
    const text = input.value;
    if (!text.trim()) return;
    if (mode?.type === 'edit') {
      controller.edit(mode.message, text);
      drafts.delete(cid);
      mode = null;
      replyBar.hidden = true;
      input.value = '';
    } else {
      controller.send(cid, text, mode?.type === 'reply' ? mode.message.id : null);
      setModeSilently(null);
      input.value = '';
      forceBottom = true;
    }
    drafts.delete(cid);
    autoresize();
    renderMessages();
    input.focus();
  }

  function setModeSilently(next) {
    mode = next;
    replyBar.hidden = !next;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && mode) {
      e.preventDefault();
      setMode(null);
    } else if (e.key === 'ArrowUp' && !input.value && !mode) {
      const mine = store.thread(state.activeId).sorted().reverse().find((m) => m.sender_id === state.me?.id && !m.deleted && m.type !== 'system');
      if (mine) { e.preventDefault(); setMode({ type: 'edit', message: mine }); }
    }
  });
  input.addEventListener('input', () => {
    autoresize();
    if (state.activeId != null && mode?.type !== 'edit') {
      drafts.set(state.activeId, input.value);
      if (input.value.trim()) controller.typing(state.activeId);
      else controller.stopTyping();
    }
  });
  $('cancel-reply').addEventListener('click', () => setMode(null));
  $('back-button').addEventListener('click', onBack);
  $('members-button').addEventListener('click', openMembers);

  function show() {
    const cid = state.activeId;
    const active = cid != null && state.conversations.has(cid);
    view.hidden = !active;
    empty.hidden = active;
    if (!active) { renderedFor = null; return; }
    if (renderedFor !== cid) {
      mode = null;
      replyBar.hidden = true;
      input.value = drafts.get(cid) || '';
      autoresize();
    }
    const c = state.conversations.get(cid);
    $('members-button').setAttribute('aria-label', c.type === 'group' ? 'Group details and members' : 'Conversation details');
    renderHeader();
    renderMessages();
    renderHistoryStatus();
    renderTyping();
  }

  store.on('active', show);
  store.on('conversations', () => { if (state.activeId != null) renderHeader(); });
  store.on('presence', () => { if (state.activeId != null) renderHeader(); });
  store.on('messages', (cid) => { if (cid === state.activeId) renderMessages(); });
  store.on('receipts', (cid) => { if (cid === state.activeId) renderMessages(); });
  store.on('history', (cid) => { if (cid === state.activeId) renderHistoryStatus(); });
  store.on('typing', (cid) => { if (cid === state.activeId) renderTyping(); });
  store.on('highlight', ({ conversationId, seq }) => {
    if (conversationId !== state.activeId) return;
    const node = list.querySelector(`[data-seq="${Number(seq)}"]`);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    node.classList.add('highlight');
    node.querySelector('.bubble')?.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('highlight'), 2500);
  });

  return { show, focusInput: () => input.focus() };
}
