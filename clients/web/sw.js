// Parley's service worker: Web Push only (no caching, no fetch handler).
// A push carries {title, body, badge, tag, link, data} (services/notify, docs/push.md);
// it becomes a system notification, and a click on it focuses a Parley tab
// (or opens one) at the push's link. Links are kept to this origin.
/* eslint-env serviceworker */
'use strict';

/** The notification to show for a push payload (already parsed JSON, or text). */
function notificationFor(payload) {
  const p = payload && typeof payload === 'object' ? payload : { body: typeof payload === 'string' ? payload : '' };
  const options = {
    body: typeof p.body === 'string' ? p.body : '',
    data: { link: typeof p.link === 'string' ? p.link : '/', ...(p.data && typeof p.data === 'object' ? p.data : {}) },
  };
  if (typeof p.tag === 'string' && p.tag) {
    options.tag = p.tag; // one entry per conversation: a newer push replaces it
    options.renotify = true;
  }
  return { title: typeof p.title === 'string' && p.title ? p.title : 'Parley', options };
}

/** The URL a click opens: the push's link on this origin, else the app's start page. */
function targetUrl(link, origin) {
  try {
    const url = new URL(link || '/', origin);
    return url.origin === origin ? url.href : `${origin}/`;
  } catch {
    return `${origin}/`;
  }
}

function readPayload(data) {
  if (!data) return {};
  try { return data.json(); } catch { return data.text(); }
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  const payload = readPayload(event.data);
  const { title, options } = notificationFor(payload);
  const work = [self.registration.showNotification(title, options)];
  const badge = payload && typeof payload === 'object' ? payload.badge : undefined;
  if (typeof badge === 'number' && self.navigator.setAppBadge) {
    work.push((badge > 0 ? self.navigator.setAppBadge(badge) : self.navigator.clearAppBadge()).catch(() => {}));
  }
  event.waitUntil(Promise.all(work));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = targetUrl(event.notification.data && event.notification.data.link, self.location.origin);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (tab) {
      await tab.focus();
      tab.postMessage({ type: 'parley.open', url }); // the page's router opens it without a reload
      return;
    }
    await self.clients.openWindow(url);
  })());
});
