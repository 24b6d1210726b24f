// The service worker (sw.js, a classic script) run in a vm with a fake `self`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const source = readFileSync(new URL('../sw.js', import.meta.url), 'utf8');

function worker({ windows = [] } = {}) {
  const listeners = {};
  const calls = { shown: [], opened: [], badge: [] };
  const self = {
    location: { origin: 'https://chat.example.com' },
    addEventListener: (type, fn) => { listeners[type] = fn; },
    skipWaiting: () => {},
    registration: { showNotification: async (title, options) => { calls.shown.push({ title, options }); } },
    navigator: { setAppBadge: async (n) => { calls.badge.push(n); }, clearAppBadge: async () => { calls.badge.push(0); } },
    clients: {
      claim: async () => {},
      matchAll: async () => windows,
      openWindow: async (url) => { calls.opened.push(url); },
    },
  };
  vm.runInNewContext(source, { self, URL, Promise });
  async function fire(type, event) {
    let work = Promise.resolve();
    listeners[type]({ ...event, waitUntil: (p) => { work = p; } });
    await work;
  }
  return { fire, calls };
}

const pushData = (payload) => ({ json: () => payload, text: () => JSON.stringify(payload) });

test('a push shows its title, body and tag, keeps the link, sets the badge', async () => {
  const w = worker();
  await w.fire('push', { data: pushData({ title: 'ann', body: 'hi', badge: 3, tag: 'conversation:5', link: '/?conversation=5', data: { conversation_id: '5' } }) });
  const [{ title, options }] = w.calls.shown;
  assert.equal(title, 'ann');
  assert.equal(options.body, 'hi');
  assert.equal(options.tag, 'conversation:5');
  assert.equal(options.data.link, '/?conversation=5');
  assert.equal(options.data.conversation_id, '5');
  assert.deepEqual(w.calls.badge, [3]);
});

test('a push without a readable payload still shows something', async () => {
  const w = worker();
  await w.fire('push', { data: { json: () => { throw new Error('not json'); }, text: () => 'plain' } });
  assert.equal(w.calls.shown[0].title, 'Parley');
  assert.equal(w.calls.shown[0].options.body, 'plain');
});

test('a click focuses an open tab and tells it the link', async () => {
  const posted = [];
  let focused = false;
  const tab = { url: 'https://chat.example.com/#/c/1', focus: async () => { focused = true; }, postMessage: (m) => posted.push(m) };
  const w = worker({ windows: [tab] });
  let closed = false;
  await w.fire('notificationclick', { notification: { data: { link: '/?conversation=5' }, close: () => { closed = true; } } });
  assert.ok(closed && focused);
  assert.deepEqual(JSON.parse(JSON.stringify(posted)), [{ type: 'parley.open', url: 'https://chat.example.com/?conversation=5' }]);
  assert.deepEqual(w.calls.opened, []);
});

test('a click with no tab opens one, never another origin', async () => {
  const w = worker();
  await w.fire('notificationclick', { notification: { data: { link: 'https://evil.example/x' }, close: () => {} } });
  assert.deepEqual(w.calls.opened, ['https://chat.example.com/']);
});
