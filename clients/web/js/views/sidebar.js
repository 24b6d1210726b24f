// Sidebar: conversation list (most recent first, unread badges, live
// reordering) and the friends tab (search people, incoming requests, friends
// with online dots).

import { $, el, avatar, formatListTime, debounce, errorText } from '../util.js';

export function mountSidebar({ store, controller, toast, onOpenConversation }) {
  const { state } = store;
  const convList = $('conversation-list');
  const convEmpty = $('conversation-empty');
  const totalUnread = $('total-unread');
  const requestCount = $('request-count');
  const friendList = $('friend-list');
  const requestList = $('friend-requests');
  const searchInput = $('friend-search-input');
  const searchResults = $('friend-search-results');

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
    if (m.deleted || (m.content === '' && m.sender_id != null)) return 'Message deleted';
    const who = m.sender_id == null ? '' : m.sender_id === state.me?.id ? 'You: ' : c.type === 'group' ? `${senderName(c, m.sender_id)}: ` : '';
    return `${who}${m.content}`;
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
      avatar(c.type === 'group' ? `# ${name}` : name, other ? { online: state.online.has(other.id) } : {}),
      el('span', { class: 'conv-name', testid: 'conversation-name' }, name),
      el('span', { class: 'conv-time' }, formatListTime(c.last_message?.created_at || c.created_at)),
      el('span', { class: 'conv-preview', testid: 'conversation-preview' }, previewText(c)),
      unread ? el('span', { class: 'badge', testid: 'unread-badge', 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)) : el('span'));
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
      return el('li', { class: 'person', testid: 'friend-item', 'data-user-id': f.id, 'data-online': online ? 'true' : 'false' },
        avatar(f.username, { online }),
        el('span', { class: 'name' }, f.username, el('span', { class: 'sub' }, online ? 'Online' : 'Offline')),
        el('span', { class: 'actions' },
          el('button', { type: 'button', testid: 'start-dm', 'aria-label': `Message ${f.username}`, onclick: () => run(() => controller.startDirect(f.id)) }, 'Message')));
    }));
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
    if (!q) { searchResults.replaceChildren(); return; }
    try {
      const users = (await controller.searchUsers(q)).filter((u) => u.id !== state.me?.id);
      if (searchInput.value.trim() !== q) return;
      if (!users.length) {
        searchResults.replaceChildren(el('li', { class: 'empty muted' }, 'Nobody found.'));
        return;
      }
      searchResults.replaceChildren(...users.map((u) => {
        const isFriend = state.friends.has(u.id);
        return el('li', { class: 'person', testid: 'friend-search-result', 'data-user-id': u.id },
          avatar(u.username),
          el('span', { class: 'name' }, u.username),
          el('span', { class: 'actions' }, isFriend
            ? el('button', { type: 'button', testid: 'start-dm', onclick: () => run(() => controller.startDirect(u.id)) }, 'Message')
            : el('button', {
              type: 'button', class: 'primary', testid: 'send-friend-request', 'aria-label': `Send friend request to ${u.username}`,
              onclick: (e) => {
                const b = e.currentTarget;
                run(async () => { await controller.sendFriendRequest(u.username); b.textContent = 'Requested'; b.disabled = true; });
              },
            }, 'Add friend')));
      }));
    } catch (e) {
      searchResults.replaceChildren(el('li', { class: 'error' }, errorText(e)));
    }
  }, 250);
  searchInput.addEventListener('input', () => search(searchInput.value.trim()));
  $('friend-search-form').addEventListener('submit', (e) => { e.preventDefault(); search(searchInput.value.trim()); });

  async function run(fn) {
    try { await fn(); } catch (e) { toast(errorText(e), { error: true }); }
  }

  store.on('conversations', renderConversations);
  store.on('friends', () => { renderFriends(); });
  store.on('requests', renderRequests);
  store.on('me', renderConversations);
  store.on('reset', () => {
    searchInput.value = '';
    searchResults.replaceChildren();
    selectTab('tab-chats');
    renderConversations();
    renderFriends();
    renderRequests();
  });

  selectTab('tab-chats');
  return { selectTab, render: () => { renderConversations(); renderFriends(); renderRequests(); } };
}
