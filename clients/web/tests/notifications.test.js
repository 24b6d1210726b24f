// Unit tests for the notifications page's and the preferences' DOM-free logic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILT_IN_FILTERS, filtersFor, hostPrefix, matchesType, mergeNewestFirst, prefixLabel, queriesFor, unreadFor,
} from '../js/notifications.js';
import { createStore } from '../js/store.js';
import { parseDelay, preferenceChanges, typeLabel } from '../js/preferences.js';

const byKey = (key, filters = filtersFor({}, [])) => filters.find((f) => f.key === key);

test('host types group by their first part; chat types have none', () => {
  assert.equal(hostPrefix('task.assigned'), 'task.');
  assert.equal(hostPrefix('task.due.soon'), 'task.');
  assert.equal(hostPrefix('mention'), null);
  assert.equal(prefixLabel('task.'), 'Task');
  assert.equal(prefixLabel('due_soon.'), 'Due soon');
});

test('filters: chat own always, Updates and host prefixes when seen', () => {
  assert.deepEqual(filtersFor({}, []).map((f) => f.key), BUILT_IN_FILTERS.map((f) => f.key));
  const keys = filtersFor({ 'task.assigned': 2, 'billing.paid': 1 }, ['integration', 'task.done']).map((f) => f.key);
  assert.deepEqual(keys, ['all', 'mention', 'friends', 'groups', 'integration', 'billing.', 'task.']);
});

test('a filter matches its types, their dotted subtypes and its prefix', () => {
  const friends = byKey('friends');
  assert.ok(matchesType(friends, 'friend_request'));
  assert.ok(matchesType(friends, 'friend_accepted'));
  assert.ok(!matchesType(friends, 'mention'));
  assert.ok(matchesType(byKey('mention'), 'mention.x'));
  assert.ok(!matchesType(byKey('mention'), 'mentions'));
  const task = byKey('task.', filtersFor({ 'task.a': 1 }));
  assert.ok(matchesType(task, 'task.assigned'));
  assert.ok(!matchesType(task, 'tasks.assigned'));
  assert.ok(matchesType(byKey('all'), 'anything.at_all'));
  assert.deepEqual(queriesFor(byKey('all')), [null]);
  assert.deepEqual(queriesFor(friends), ['friend_request', 'friend_accepted']);
});

test('unread counts per filter come from by_type', () => {
  const byType = { mention: 2, friend_request: 1, friend_accepted: 3, 'task.assigned': 4, 'task.done': 1 };
  const filters = filtersFor(byType);
  assert.equal(unreadFor(byKey('all', filters), byType), 11);
  assert.equal(unreadFor(byKey('friends', filters), byType), 4);
  assert.equal(unreadFor(byKey('groups', filters), byType), 0);
  assert.equal(unreadFor(byKey('task.', filters), byType), 5);
});

test('pages merge newest first without duplicates', () => {
  const n = (id) => ({ id });
  assert.deepEqual(mergeNewestFirst([[n(5), n(2)], [n(4), n(2), n(1)]], 3).map((x) => x.id), [5, 4, 2]);
});

test('the store lists a live notification only under a filter that shows it, and counts it always', () => {
  const store = createStore();
  const { state } = store;
  const mentions = byKey('mention');
  store.setNotifications([{ id: 1, type: 'mention', is_read: false }], { filter: mentions });
  store.setNotificationCounts({ count: 1, by_type: { mention: 1 } });
  store.addNotification({ id: 2, type: 'task.assigned', is_read: false });
  assert.deepEqual(state.notifications.map((x) => x.id), [1]);
  assert.deepEqual(state.notificationCounts, { mention: 1, 'task.assigned': 1 });
  assert.equal(state.notificationUnread, 2);
  store.addNotification({ id: 3, type: 'mention', is_read: false });
  store.addNotification({ id: 3, type: 'mention', is_read: false }); // the same again
  assert.deepEqual(state.notifications.map((x) => x.id), [3, 1]);
  assert.equal(state.notificationUnread, 3);
  store.markNotificationRead(3);
  store.markNotificationRead(3);
  assert.deepEqual(state.notificationCounts, { mention: 1, 'task.assigned': 1 });
  store.removeNotification(1);
  assert.deepEqual(state.notificationCounts, { 'task.assigned': 1 });
  assert.equal(state.notificationUnread, 1);
  store.markAllNotificationsRead();
  assert.equal(state.notificationUnread, 0);
});

test('preferences: only what changed is sent', () => {
  const saved = {
    email_missed_messages: true, email_delay_minutes: 5, digest: 'off', push_previews: true,
    channels: { mention: { in_app: true, email: false, push: true }, host: { in_app: true, email: true, push: true } },
  };
  assert.deepEqual(preferenceChanges(saved, structuredClone(saved)), {});
  const edited = structuredClone(saved);
  edited.channels.host.email = false;
  edited.push_previews = false;
  edited.email_delay_minutes = 15;
  assert.deepEqual(preferenceChanges(saved, edited), {
    email_delay_minutes: 15, push_previews: false, channels: { host: { email: false } },
  });
  assert.equal(typeLabel('mention'), 'Mentions');
  assert.equal(typeLabel('task.assigned'), 'task.assigned');
});

test('the email delay is minutes from 0 to a week', () => {
  assert.deepEqual(parseDelay('15'), { value: 15, error: null });
  assert.deepEqual(parseDelay('0'), { value: 0, error: null });
  assert.ok(parseDelay('').error);
  assert.ok(parseDelay('-1').error);
  assert.ok(parseDelay('20000').error);
  assert.ok(parseDelay('abc').error);
});

test('notification links: ?conversation=, #/c/, ?view=friends, same origin only', async () => {
  const { targetOf } = await import('../js/router.js');
  const o = 'https://chat.example.com';
  assert.deepEqual(targetOf('/?conversation=12', o), { conversation: 12 });
  assert.deepEqual(targetOf(`${o}/#/c/7`, o), { conversation: 7 });
  assert.deepEqual(targetOf('/?view=friends', o), { view: 'friends' });
  assert.equal(targetOf('https://evil.example/?conversation=12', o), null);
  assert.equal(targetOf('/?conversation=abc', o), null);
  assert.equal(targetOf('/', o), null);
});

test('push: the VAPID key becomes the bytes applicationServerKey takes', async () => {
  const { keyBytes } = await import('../js/push.js');
  assert.deepEqual([...keyBytes('AQID_-8')], [1, 2, 3, 255, 239]);
});

test('controller: a filter of two types merges two queries; "mark these read" reads only the visible', async () => {
  const { createNotifications } = await import('../js/controller/notifications.js');
  const calls = [];
  const rows = {
    friend_request: [{ id: 5, type: 'friend_request', is_read: false }],
    friend_accepted: [{ id: 7, type: 'friend_accepted', is_read: false }, { id: 2, type: 'friend_accepted', is_read: true }],
  };
  const api = {
    async notifications(p) { calls.push(['list', p.type ?? null]); return rows[p.type] || []; },
    async notificationCount() { return { count: 4, by_type: { friend_request: 1, friend_accepted: 1, mention: 2 } }; },
    async readNotification(id) { calls.push(['read', id]); },
    async readAllNotifications() { calls.push(['read-all']); },
    async deleteNotification(id) { calls.push(['delete', id]); },
  };
  const store = createStore();
  const n = createNotifications({ api, store, state: store.state });
  await n.loadNotifications(byKey('friends'));
  assert.deepEqual(store.state.notifications.map((x) => x.id), [7, 5, 2]);
  assert.deepEqual(calls.filter((c) => c[0] === 'list').map((c) => c[1]), ['friend_request', 'friend_accepted']);
  assert.equal(store.state.notificationUnread, 4);
  calls.length = 0;
  await n.readAllNotifications();
  assert.deepEqual(calls.map((c) => c.join(' ')).sort(), ['read 5', 'read 7']);
  await n.deleteNotification(store.state.notifications[0]);
  assert.deepEqual(store.state.notifications.map((x) => x.id), [5, 2]);
  calls.length = 0;
  await n.loadNotifications(byKey('all'));
  await n.readAllNotifications();
  assert.deepEqual(calls.filter((c) => c[0] !== 'list'), [['read-all']]);
});
