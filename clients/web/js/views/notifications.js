// The notifications page (the bell's drawer): filters by type with their unread
// counts (chat's own types, and a host product's types by prefix, e.g. `task.`),
// the list newest first with "Show older", mark read (one, or all visible) and
// delete. Live ones arrive by the `notification` frame and show at once.

import { $, el, timeAgo, errorText } from '../util.js';
import { filtersFor, hostPrefix, prefixLabel, unreadFor } from '../notifications.js';

export function mountNotifications({ store, controller, toast }) {
  const { state } = store;
  const dialog = $('notifications-dialog');
  const list = $('notification-list');
  const filtersBar = $('notification-filters');
  const more = $('notifications-more');
  const error = $('notifications-error');
  const bell = $('notification-bell');
  const bellCount = $('notification-count');

  function fail(e) { error.textContent = errorText(e); }

  function renderBell() {
    const n = state.notificationUnread;
    bellCount.hidden = !n;
    bellCount.textContent = n > 99 ? '99+' : String(n);
    bell.setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
  }

  function renderFilters() {
    const current = state.notificationFilter;
    const filters = filtersFor(state.notificationCounts, state.notifications.map((n) => n.type));
    if (!filters.some((f) => f.key === current.key)) filters.push(current);
    filtersBar.replaceChildren(...filters.map((f) => {
      const unread = unreadFor(f, state.notificationCounts);
      return el('button', {
        type: 'button', class: 'chip', testid: 'notification-filter', 'data-filter': f.key,
        'aria-pressed': f.key === current.key ? 'true' : 'false',
        'aria-label': unread ? `${f.label}, ${unread} unread` : f.label,
        onclick: () => choose(f),
      }, f.label, unread ? el('span', { class: 'badge', testid: 'notification-filter-count', 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)) : null);
    }));
  }

  function typeLabel(type) {
    const prefix = hostPrefix(type);
    return prefix ? prefixLabel(prefix) : null;
  }

  function renderItem(item) {
    const label = typeLabel(item.type);
    return el('li', { class: 'notif' },
      el('button', {
        type: 'button', class: `result${item.is_read ? '' : ' unread'}`, testid: 'notification-item',
        'data-notification-id': item.id, 'data-read': item.is_read ? 'true' : 'false', 'data-type': item.type,
        onclick: () => openNotification(item),
      },
      el('span', { class: 'title' }, item.title),
      el('span', { class: 'body' }, item.body),
      el('span', { class: 'body' }, label ? `${label} · ` : '', timeAgo(item.created_at))),
      el('span', { class: 'notif-actions' },
        item.is_read ? null : el('button', {
          type: 'button', class: 'link', testid: 'notification-read', 'aria-label': `Mark read: ${item.title}`,
          onclick: () => markRead(item),
        }, 'Mark read'),
        el('button', {
          type: 'button', class: 'link danger-link', testid: 'notification-delete', 'aria-label': `Delete: ${item.title}`,
          onclick: () => remove(item),
        }, 'Delete')));
  }

  function render() {
    renderBell();
    if (!dialog.open) return;
    renderFilters();
    list.replaceChildren(...(state.notifications.length
      ? state.notifications.map(renderItem)
      : [el('li', { class: 'empty muted' }, state.notificationFilter.types ? 'Nothing here.' : 'Nothing new.')]));
    more.hidden = !state.notificationsMore;
    $('notifications-read-all').textContent = state.notificationFilter.types ? 'Mark these read' : 'Mark all read';
  }

  function choose(filter) {
    error.textContent = '';
    store.setNotifications([], { filter });
    controller.loadNotifications(filter).catch(fail);
  }

  const itemButton = (nid) => list.querySelector(`[data-testid="notification-item"][data-notification-id="${nid}"]`);

  // The list is re-rendered after each action: focus goes to the same (or the next) item, never lost.
  function markRead(item) {
    controller.readNotification(item);
    itemButton(item.id)?.focus();
  }

  async function remove(item) {
    const ids = state.notifications.map((n) => n.id);
    const at = ids.indexOf(item.id);
    const nextId = ids[at + 1] ?? ids[at - 1];
    try {
      await controller.deleteNotification(item);
      (itemButton(nextId) || filtersBar.querySelector('[aria-pressed="true"]'))?.focus();
    } catch (e) { fail(e); }
  }

  function openNotification(item) {
    controller.readNotification(item);
    const data = item.data || {};
    const cid = Number(data.conversation_id);
    if (cid && state.conversations.has(cid)) {
      dialog.close();
      if (data.message_id) controller.jumpTo(cid, Number(data.message_id));
      else controller.openConversation(cid);
    } else if (item.type === 'friend_request' || item.type === 'friend_accepted') {
      dialog.close();
      $('tab-friends').click();
    } else if (/^https?:\/\//.test(item.link || '')) {
      window.open(item.link, '_blank', 'noopener,noreferrer'); // a host product's page
    }
  }

  bell.addEventListener('click', () => {
    error.textContent = '';
    dialog.showModal();
    render();
    controller.loadNotifications().catch(fail);
  });
  $('notifications-read-all').addEventListener('click', () => controller.readAllNotifications().catch((e) => toast(errorText(e), { error: true })));
  more.addEventListener('click', () => controller.loadOlderNotifications().catch(fail));
  store.on('notifications', render);
  store.on('reset', render);

  return { render };
}
