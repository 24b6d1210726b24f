// The notifications page: the list under a filter (chat's own types or a host
// prefix such as `task.`), older pages, unread counts per type, mark read
// (one, or every visible one), delete. Live ones come by the `notification` frame (frames.js).

import { ApiError } from '../api.js';
import { mergeNewestFirst, queriesFor } from '../notifications.js';

const PAGE = 50;

export function createNotifications(core) {
  const { api, store, state } = core;
  let generation = 0; // a newer load wins over a slower older one

  async function fetchPage(filter, before) {
    const pages = await Promise.all(queriesFor(filter).map((type) => api.notifications({ type, before, limit: PAGE })));
    return { list: mergeNewestFirst(pages, PAGE), more: pages.some((p) => p.length >= PAGE) };
  }

  async function refreshCounts() {
    store.setNotificationCounts(await api.notificationCount());
  }

  /** The newest page under `filter` (default: the current one), and the counts. */
  async function load(filter = state.notificationFilter) {
    const mine = ++generation;
    const [{ list, more }, counts] = await Promise.all([fetchPage(filter), api.notificationCount()]);
    if (mine !== generation) return;
    store.setNotifications(list, { filter, more });
    store.setNotificationCounts(counts);
  }

  async function loadOlder() {
    const filter = state.notificationFilter;
    const oldest = state.notifications.at(-1);
    if (!oldest) return;
    const mine = ++generation;
    const { list, more } = await fetchPage(filter, oldest.id);
    if (mine !== generation || filter !== state.notificationFilter) return;
    store.setNotifications(mergeNewestFirst([state.notifications, list], Infinity), { filter, more });
  }

  function read(n) {
    if (n.is_read) return;
    store.markNotificationRead(n.id);
    api.readNotification(n.id).catch(() => {});
  }

  /** "Mark all read": under "All" every notification (POST /notifications/read-all), else the visible ones. */
  async function readVisible() {
    if (!state.notificationFilter.types) {
      store.markAllNotificationsRead();
      await api.readAllNotifications();
    } else {
      const unread = state.notifications.filter((n) => !n.is_read);
      for (const n of unread) store.markNotificationRead(n.id);
      await Promise.all(unread.map((n) => api.readNotification(n.id).catch((e) => {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      })));
    }
    await refreshCounts().catch(() => {});
  }

  async function remove(n) {
    try {
      await api.deleteNotification(n.id);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e; // already gone: drop it all the same
    }
    store.removeNotification(n.id);
  }

  return {
    loadNotifications: load,
    loadOlderNotifications: loadOlder,
    refreshNotificationCounts: refreshCounts,
    readNotification: read,
    readAllNotifications: readVisible,
    deleteNotification: remove,
  };
}
