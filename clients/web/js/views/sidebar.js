// Sidebar: conversation list (most recent first, unread badges, live
// reordering) and the friends tab (search people, incoming and sent requests,
// friends with online dots and "last seen"). Wherever a person appears, the
// button shows how we relate (relationActions), so it is never stale.

import { $, el, avatar, timeAgo, debounce, errorText } from '../util.js';

/** The button(s) for a person: Message (friend), Requested + Cancel (sent), Accept (received), or Add friend. */
export function relationActions(store, controller, user, run) {
  const r = store.relationTo(user.id);
  const name = user.username;
  if (r.kind === 'me') return [];
  if (r.kind === 'friend') {
    return [el('button', { type: 'button', testid: 'start-dm', 'aria-label': `Message ${name}`, onclick: () => run(() => controller.startDirect(user.id)) }, 'Message')];
  }
  if (r.kind === 'sent') {
    return [
      el('span', { class: 'state-tag', testid: 'request-sent' }, 'Requested'),
      el('button', { type: 'button', testid: 'cancel-request', 'aria-label': `Cancel friend request to ${name}`, onclick: () => run(() => controller.cancelRequest(r.request.id)) }, 'Cancel'),
    ];
  }
  if (r.kind === 'received') {
    return [el('button', { type: 'button', class: 'primary', testid: 'request-accept', 'aria-label': `Accept friend request from ${name}`, onclick: () => run(() => controller.acceptRequest(r.request.id)) }, 'Accept')];
  }
  return [el('button', {
    type: 'button', class: 'primary', testid: 'send-friend-request', 'aria-label': `Send friend request to ${name}`,
    onclick: (e) => {
      const b = e.currentTarget; // aria-disabled, not disabled: a disabled button would drop the focus
      if (b.getAttribute('aria-disabled') === 'true') return;
      b.setAttribute('aria-disabled', 'true');
      run(() => controller.sendFriendRequest(name));
    },
  }, 'Add friend')];
}

export function mountSidebar({ store, controller, toast, onOpenConversation, onOpenPerson = () => {} }) {
  const { state } = store;
  const convList = $('conversation-list');
  const convEmpty = $('conversation-empty');
  const totalUnread = $('total-unread');
  const requestCount = $('request-count');
  const friendList = $('friend-list');
  const requestList = $('friend-requests');
  const searchInput = $('friend-search-input');
  const searchResults = $('friend-search-results');
  const sentList = $('sent-requests');
  let lastResults = null; // the people of the last search, re-rendered whenever a relation changes

  // ---- tabs ----
  const tabs = [[$('tab-chats'), $('panel-chats')], [$('tab-friends'), $('panel-friends')]];
  function selectTab(which) {
    for (const [tab, panel] of tabs) {
      const on = tab.id === which;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
  }
  for (const [tab] of tabs) {
    tab.addEventListener('click', () => selectTab(tab.id));
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const other = tabs.find(([t]) => t !== tab)[0];
        selectTab(other.id);
        other.focus();
      }
    });
  }

  // ---- conversations ----
  function previewText(c) {
    const m = c.last_message;
    if (!m) return c.type === 'group' ? 'Group created' : 'No messages yet';
    const carries = m.type === 'image' || m.type === 'file';
    if (m.deleted || (m.content === '' && m.sender_id != null && !carries)) return 'Message deleted';
    const who = m.sender_id == null ? '' : m.sender_id === state.me?.id ? 'You: ' : c.type === 'group' ? `${senderName(c, m.sender_id)}: ` : '';
    return `${who}${m.content || (m.type === 'image' ? '📷 Photo' : '📎 File')}`;
  }

  function senderName(c, uid) {
    return c.members?.find((m) => m.user?.id === uid)?.user?.username || 'Someone';
  }

  function renderConversations() {
    const convs = store.sortedConversations();
    convEmpty.hidden = convs.length > 0;
    const nodes = convs.map((c) => {
      const name = controller.conversationTitle(c);
      const other = c.type === 'direct' ? controller.otherMember(c) : null;
      const unread = c.unread_count || 0;
      const button = el('button', {
        type: 'button',
        class: `conv-item${unread ? ' unread' : ''}`,
        testid: 'conversation-item',
        'data-conversation-id': c.id,
        'data-type': c.type,
        'aria-current': c.id === state.activeId ? 'true' : 'false',
        'aria-label': `${name}${unread ? `, ${unread} unread` : ''}`,
        onclick: () => onOpenConversation(c.id),
      },
      avatar(c.type === 'group' ? `# ${name}` : name, other ? { online: state.online.has(other.id), url: other.avatar_url } : { url: c.avatar_url }),
      el('span', { class: 'conv-name', testid: 'conversation-name' }, name),
      timeAgo(c.last_message?.created_at || c.created_at, { cls: 'conv-time' }),
      el('span', { class: 'conv-preview', testid: 'conversation-preview' }, previewText(c)),
      unread ? el('span', { class: 'badge unread-badge', testid: 'unread-badge', 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)) : el('span'));
      return el('li', {}, button);
    });
    const focusedId = document.activeElement?.closest?.('[data-testid="conversation-item"]')?.dataset.conversationId;
    convList.replaceChildren(...nodes);
    if (focusedId) convList.querySelector(`[data-conversation-id="${Number(focusedId)}"]`)?.focus();
    const total = store.totalUnread();
    totalUnread.hidden = !total;
    totalUnread.textContent = total > 99 ? '99+' : String(total);
    document.title = total ? `(${total}) Parley` : 'Parley';
  }

  // ---- friends ----
  function renderFriends() {
    const friends = [...state.friends.values()].sort((a, b) =>
      Number(state.online.has(b.id)) - Number(state.online.has(a.id)) || a.username.localeCompare(b.username));
    if (!friends.length) {
      friendList.replaceChildren(el('li', { class: 'empty muted' }, 'No friends yet. Search for people above.'));
      return;
    }
    friendList.replaceChildren(...friends.map((f) => {
      const online = state.online.has(f.id);
      const seen = state.lastSeen.get(f.id);
      // The avatar and name open the friend's profile (write to them from there).
      return el('li', { class: 'person', testid: 'friend-item', 'data-user-id': f.id, 'data-online': online ? 'true' : 'false' },
        el('button', { type: 'button', class: 'person-main', testid: 'friend-profile', 'aria-label': `${f.username}'s profile`, onclick: () => onOpenPerson(f) },
          avatar(f.username, { online, url: f.avatar_url }),
          el('span', { class: 'name' }, f.username, el('span', { class: 'sub' },
            online ? 'Online' : seen ? timeAgo(seen, { prefix: 'Last seen ', testid: 'last-seen' }) : 'Offline'))),
        el('span', { class: 'actions' },
          el('button', { type: 'button', testid: 'start-dm', 'aria-label': `Message ${f.username}`, onclick: () => run(() => controller.startDirect(f.id)) }, 'Message')));
    }));
  }

  function renderSent() {
    const sent = state.sentRequests;
    if (!sent.length) {
      sentList.replaceChildren(el('li', { class: 'empty muted' }, 'No requests waiting for an answer.'));
      return;
    }
    sentList.replaceChildren(...sent.map((r) => {
      const name = r.receiver?.username || 'Someone';
      return el('li', { class: 'person', testid: 'sent-request-item', 'data-request-id': r.id, 'data-user-id': r.receiver?.id },
        avatar(name),
        el('span', { class: 'name' }, name, el('span', { class: 'sub' }, timeAgo(r.created_at, { prefix: 'Sent ' }))),
        el('span', { class: 'actions' },
          el('button', { type: 'button', testid: 'cancel-request', 'aria-label': `Cancel friend request to ${name}`, onclick: () => run(() => controller.cancelRequest(r.id)) }, 'Cancel')));
    }));
  }

  function renderResults() {
    if (!lastResults) return;
    if (!lastResults.length) {
      searchResults.replaceChildren(el('li', { class: 'empty muted' }, 'Nobody found.'));
      return;
    }
    // The row's buttons change with the relation (Add friend → Requested + Cancel): keep focus in that row.
    const focusedRow = document.activeElement?.closest?.('[data-testid="friend-search-result"]')?.dataset.userId;
    searchResults.replaceChildren(...lastResults.map((u) => el('li', { class: 'person', testid: 'friend-search-result', 'data-user-id': u.id },
      avatar(u.username),
      el('span', { class: 'name' }, u.username),
      el('span', { class: 'actions' }, relationActions(store, controller, u, run)))));
    if (focusedRow) searchResults.querySelector(`[data-user-id="${Number(focusedRow)}"] button`)?.focus();
  }

  function renderRequests() {
    const reqs = state.requests;
    requestCount.hidden = !reqs.length;
    requestCount.textContent = String(reqs.length);
    if (!reqs.length) {
      requestList.replaceChildren(el('li', { class: 'empty muted' }, 'No pending requests.'));
      return;
    }
    requestList.replaceChildren(...reqs.map((r) => {
      const name = r.requester?.username || 'Someone';
      return el('li', { class: 'person', testid: 'friend-request-item', 'data-request-id': r.id },
        avatar(name),
        el('span', { class: 'name' }, name),
        el('span', { class: 'actions' },
          el('button', { type: 'button', class: 'primary', testid: 'request-accept', 'aria-label': `Accept friend request from ${name}`, onclick: () => run(() => controller.acceptRequest(r.id)) }, 'Accept'),
          el('button', { type: 'button', testid: 'request-reject', 'aria-label': `Reject friend request from ${name}`, onclick: () => run(() => controller.rejectRequest(r.id)) }, 'Reject')));
    }));
  }

  const search = debounce(async (q) => {
    if (!q) { lastResults = null; searchResults.replaceChildren(); return; }
    try {
      const users = (await controller.searchUsers(q)).filter((u) => u.id !== state.me?.id);
      if (searchInput.value.trim() !== q) return;
      lastResults = users;
      renderResults();
    } catch (e) {
      searchResults.replaceChildren(el('li', { class: 'error' }, errorText(e)));
    }
  }, 250);
  searchInput.addEventListener('input', () => search(searchInput.value.trim()));
  $('friend-search-form').addEventListener('submit', (e) => { e.preventDefault(); search(searchInput.value.trim()); });

  async function run(fn) {
    try { await fn(); } catch (e) { toast(errorText(e), { error: true }); renderResults(); }
  }

  store.on('conversations', renderConversations);
  store.on('friends', () => { renderFriends(); renderResults(); });
  store.on('requests', () => { renderRequests(); renderSent(); renderResults(); });
  store.on('me', renderConversations);
  store.on('reset', () => {
    searchInput.value = '';
    searchResults.replaceChildren();
    lastResults = null;
    selectTab('tab-chats');
    renderConversations();
    renderFriends();
    renderRequests();
    renderSent();
  });

  selectTab('tab-chats');
  return { selectTab, render: () => { renderConversations(); renderFriends(); renderRequests(); renderSent(); } };
}
