// DOM-free logic of the notifications page: which filters exist, what each one
// lists and counts, and where a live notification belongs. Chat's own types
// have fixed names; a host product's types are dotted (`task.assigned`) and are
// grouped by their first part (`task.`), which is also the server's prefix filter.

/** Chat's own filters. `types` are exact names (the server also lists their dotted subtypes). */
export const BUILT_IN_FILTERS = [
  { key: 'all', label: 'All', types: null },
  { key: 'mention', label: 'Mentions', types: ['mention'] },
  { key: 'friends', label: 'Friend requests', types: ['friend_request', 'friend_accepted'] },
  { key: 'groups', label: 'Groups', types: ['added_to_group'] },
];
const INTEGRATION_FILTER = { key: 'integration', label: 'Updates', types: ['integration'] };

/** `task.assigned` → `task.`; chat's own types (no dot) → null. */
export function hostPrefix(type) {
  const i = typeof type === 'string' ? type.indexOf('.') : -1;
  return i > 0 ? type.slice(0, i + 1) : null;
}

/** `task.` → "Task", `due_soon.` → "Due soon". */
export function prefixLabel(prefix) {
  const words = prefix.replace(/\.$/, '').replace(/_/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : prefix;
}

/** Does `type` belong to `filter`? (exact name or a dotted subtype of it; a prefix ending in a dot matches all under it) */
export function matchesType(filter, type) {
  if (!filter.types) return true;
  return filter.types.some((t) => (t.endsWith('.') ? type.startsWith(t) : type === t || type.startsWith(`${t}.`)));
}

/**
 * The filters to show: chat's own, "Updates" when integration notifications exist,
 * then one per host prefix seen in the unread counts or the loaded notifications.
 */
export function filtersFor(byType = {}, seenTypes = []) {
  const types = new Set([...Object.keys(byType || {}), ...seenTypes]);
  const prefixes = [...new Set([...types].map(hostPrefix).filter(Boolean))].sort();
  return [
    ...BUILT_IN_FILTERS,
    ...(types.has('integration') ? [INTEGRATION_FILTER] : []),
    ...prefixes.map((p) => ({ key: p, label: prefixLabel(p), types: [p] })),
  ];
}

/** Unread notifications under `filter`, from `GET /notifications/unread-count`'s `by_type`. */
export function unreadFor(filter, byType = {}) {
  let n = 0;
  for (const [type, count] of Object.entries(byType || {})) if (matchesType(filter, type)) n += Number(count) || 0;
  return n;
}

/** The server's `type=` parameters a filter needs (one request each; null: no parameter). */
export function queriesFor(filter) {
  return filter.types ? filter.types : [null];
}

/** Several newest-first pages merged into one newest-first list of at most `limit`, without duplicates. */
export function mergeNewestFirst(lists, limit = 50) {
  const byId = new Map();
  for (const list of lists) for (const n of list || []) byId.set(n.id, n);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, limit);
}

/** by_type after one change: +1 for a new unread one, -1 when one is read or deleted unread. */
export function bumpCount(byType, type, delta) {
  const next = { ...(byType || {}) };
  const value = (next[type] || 0) + delta;
  if (value > 0) next[type] = value;
  else delete next[type];
  return next;
}

export function totalUnread(byType) {
  return Object.values(byType || {}).reduce((sum, n) => sum + (Number(n) || 0), 0);
}

/** The store's notification methods (store.js spreads them in): the page's list and the unread counts. */
export function notificationMethods(state, emit) {
  function countUnread(type, delta) {
    state.notificationCounts = bumpCount(state.notificationCounts, type, delta);
    state.notificationUnread = Math.max(0, state.notificationUnread + delta);
  }

  return {
    setNotifications(list, { filter = state.notificationFilter, more = false } = {}) {
      state.notificationFilter = filter;
      state.notifications = list;
      state.notificationsMore = more;
      emit('notifications');
    },
    /** A live one (the `notification` frame): counted, and listed when the current filter shows its type. */
    addNotification(n) {
      if (state.notifications.some((x) => x.id === n.id)) return;
      if (matchesType(state.notificationFilter, n.type)) {
        state.notifications = [n, ...state.notifications].sort((a, b) => b.id - a.id);
      }
      if (!n.is_read) countUnread(n.type, 1);
      emit('notifications');
    },
    /** From GET /notifications/unread-count: `{count, by_type}`. */
    setNotificationCounts({ count, by_type: byType } = {}) {
      state.notificationCounts = { ...(byType || {}) };
      state.notificationUnread = Math.max(0, count ?? totalUnread(byType));
      emit('notifications');
    },
    setNotificationUnread(n) { state.notificationUnread = Math.max(0, n); emit('notifications'); },
    markNotificationRead(id) {
      const n = state.notifications.find((x) => x.id === id);
      if (n && !n.is_read) {
        n.is_read = true;
        countUnread(n.type, -1);
      }
      emit('notifications');
    },
    markAllNotificationsRead() {
      for (const n of state.notifications) n.is_read = true;
      state.notificationCounts = {};
      state.notificationUnread = 0;
      emit('notifications');
    },
    removeNotification(id) {
      const n = state.notifications.find((x) => x.id === id);
      if (!n) return;
      state.notifications = state.notifications.filter((x) => x.id !== id);
      if (!n.is_read) countUnread(n.type, -1);
      emit('notifications');
    },
  };
}
