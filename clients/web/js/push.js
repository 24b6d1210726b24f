// Web Push in this browser: register sw.js, ask permission (only when the user
// clicks "Enable push notifications"), subscribe with the server's VAPID key and
// register the subscription as a device; turning it off deletes the device and
// unsubscribes. The device id is kept per user in localStorage.

import { ApiError } from './api.js';

const deviceKey = (uid) => `parley.pushDevice.${uid}`;

/** VAPID public key (base64url) → the bytes `applicationServerKey` takes. */
export function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob(b64);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export function pushSupported(g = globalThis) {
  return !!(g.navigator?.serviceWorker && g.PushManager && g.Notification);
}

export function createPush({ api, storage = globalThis.localStorage, g = globalThis }) {
  const load = (uid) => { try { return JSON.parse(storage.getItem(deviceKey(uid))); } catch { return null; } };

  /** 'unavailable' (server or browser cannot), 'blocked' (permission denied), 'on' or 'off'. */
  async function status(uid) {
    if (!pushSupported(g)) return 'unavailable';
    try {
      await api.webPushKey();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) return 'unavailable'; // push_unavailable
      throw e;
    }
    if (g.Notification.permission === 'denied') return 'blocked';
    const stored = load(uid);
    if (!stored) return 'off';
    const reg = await g.navigator.serviceWorker.getRegistration('./');
    const sub = await reg?.pushManager.getSubscription();
    if (!sub || sub.endpoint !== stored.endpoint) return 'off';
    const devices = await api.devices();
    return devices.some((d) => d.id === stored.id) ? 'on' : 'off';
  }

  async function enable(uid) {
    // First, while the click still counts as the user's gesture (Firefox and Safari ask only then).
    const permission = await g.Notification.requestPermission();
    if (permission === 'denied') throw new Error('Notifications are blocked for this site. Allow them in the browser’s site settings, then try again.');
    if (permission !== 'granted') throw new Error('Push stays off: the browser was not allowed to show notifications.');
    const { public_key: publicKey } = await api.webPushKey();
    await g.navigator.serviceWorker.register('./sw.js');
    const reg = await g.navigator.serviceWorker.ready;
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameKey(sub.options?.applicationServerKey, publicKey)) {
      await sub.unsubscribe();
      sub = null;
    }
    sub ||= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
    const { id } = await api.registerDevice({ platform: 'webpush', subscription: sub.toJSON(), app_version: 'web' });
    storage.setItem(deviceKey(uid), JSON.stringify({ id, endpoint: sub.endpoint }));
  }

  async function disable(uid) {
    const stored = load(uid);
    if (stored?.id != null) {
      try {
        await api.deleteDevice(stored.id);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e; // gone already (signed out elsewhere)
      }
    }
    storage.removeItem(deviceKey(uid));
    const reg = await g.navigator.serviceWorker?.getRegistration('./');
    const sub = await reg?.pushManager.getSubscription();
    await sub?.unsubscribe();
  }

  return { status, enable, disable };
}

function sameKey(buffer, base64url) {
  if (!buffer) return true; // the browser does not say: keep the subscription
  const a = new Uint8Array(buffer);
  const b = keyBytes(base64url);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
