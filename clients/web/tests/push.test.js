// push.js with a fake browser (Notification, service worker, PushManager) and a fake API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../js/api.js';
import { createPush, keyBytes } from '../js/push.js';

const KEY = 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM';

function fakes({ vapid = true, permission = 'default', answer = 'granted' } = {}) {
  const log = [];
  let sub = null;
  const devices = [];
  const pushManager = {
    async getSubscription() { return sub; },
    async subscribe(options) {
      log.push(['subscribe', options.userVisibleOnly, options.applicationServerKey.length]);
      sub = {
        endpoint: 'https://push.example/abc', options: { applicationServerKey: keyBytes(KEY).buffer },
        toJSON() { return { endpoint: this.endpoint, keys: { p256dh: 'p'.repeat(20), auth: 'a'.repeat(16) } }; },
        async unsubscribe() { log.push(['unsubscribe']); sub = null; return true; },
      };
      return sub;
    },
  };
  const reg = { pushManager };
  const Notification = {
    permission,
    async requestPermission() { log.push(['ask']); Notification.permission = answer; return answer; },
  };
  const g = {
    Notification,
    PushManager: function PushManager() {},
    navigator: { serviceWorker: {
      async register(url) { log.push(['register', url]); return reg; },
      ready: Promise.resolve(reg),
      async getRegistration() { return log.some((l) => l[0] === 'register') ? reg : undefined; },
    } },
  };
  const api = {
    async webPushKey() {
      if (!vapid) throw new ApiError(400, 'Web Push is not configured', 'push_unavailable');
      return { public_key: KEY };
    },
    async registerDevice(body) { log.push(['device', body.platform, body.subscription.endpoint]); devices.push({ id: 9 }); return { id: 9 }; },
    async devices() { return devices; },
    async deleteDevice(id) { log.push(['delete', id]); devices.length = 0; },
  };
  const data = new Map();
  const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
  return { push: createPush({ api, storage, g }), log };
}

test('without a VAPID key on the server, push is unavailable', async () => {
  const { push, log } = fakes({ vapid: false });
  assert.equal(await push.status(1), 'unavailable');
  assert.deepEqual(log, []); // and nobody was asked anything
});

test('enable asks first, subscribes with the key, registers the device; disable undoes it', async () => {
  const { push, log } = fakes();
  assert.equal(await push.status(1), 'off');
  await push.enable(1);
  assert.deepEqual(log.slice(0, 4), [['ask'], ['register', './sw.js'], ['subscribe', true, 65], ['device', 'webpush', 'https://push.example/abc']]);
  assert.equal(await push.status(1), 'on');
  assert.equal(await push.status(2), 'off'); // another user on this browser
  await push.disable(1);
  assert.deepEqual(log.slice(4), [['delete', 9], ['unsubscribe']]);
  assert.equal(await push.status(1), 'off');
});

test('a refused permission subscribes nothing', async () => {
  const { push, log } = fakes({ answer: 'denied' });
  await assert.rejects(push.enable(1), /blocked/);
  assert.deepEqual(log, [['ask']]);
  assert.equal(await push.status(1), 'blocked');
});
