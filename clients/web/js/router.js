// One URL per conversation (#/c/<id>): reload reopens it, and back/forward move
// between conversations. A hash, so the gateway serves the same page for all.

export function conversationFromUrl(loc = globalThis.location) {
  const m = loc.hash.match(/^#\/c\/(\d+)$/);
  return m ? Number(m[1]) : null;
}

/**
 * Where a link from a notification, a push or an email points (`/?conversation=5`,
 * `/?view=friends`, `#/c/5`): {conversation: id} or {view: 'friends'} or null.
 */
export function targetOf(href, origin = globalThis.location?.origin) {
  let url;
  try { url = new URL(href, origin); } catch { return null; }
  if (origin && url.origin !== origin) return null;
  const cid = Number(url.searchParams.get('conversation'));
  if (Number.isInteger(cid) && cid > 0) return { conversation: cid };
  const hash = conversationFromUrl(url);
  if (hash != null) return { conversation: hash };
  if (url.searchParams.get('view') === 'friends') return { view: 'friends' };
  return null;
}

/**
 * The single-use link of an auth email (services/auth builds `<web_url>/?reset=<token>` and
 * `/?verify=<token>`): {kind: 'reset' | 'verify', token} or null.
 */
export function emailLinkOf(href, origin = globalThis.location?.origin) {
  let url;
  try { url = new URL(href, origin); } catch { return null; }
  for (const kind of ['reset', 'verify']) {
    const token = url.searchParams.get(kind);
    if (token && /^[\w-]{20,100}$/.test(token)) return { kind, token };
  }
  return null;
}

export function mountRouter({ store, controller, onOpen, onFriends = () => {} }) {
  const { state } = store;

  function urlFor(cid) {
    return cid == null ? `${location.pathname}${location.search}` : `#/c/${cid}`;
  }

  // The app moved (a click, Ctrl+K, a notification): record it as a history entry.
  store.on('active', () => {
    if (state.me == null) return;
    if (conversationFromUrl() !== state.activeId) history.pushState(null, '', urlFor(state.activeId));
  });

  // Back/forward: show what the URL says.
  window.addEventListener('popstate', () => {
    const cid = conversationFromUrl();
    if (cid === state.activeId) return;
    if (cid != null && state.conversations.has(cid)) onOpen(cid);
    else controller.closeConversation();
  });

  /** Follows a link's target; false when there is none (or the conversation is not ours). */
  function follow(target) {
    if (target?.conversation != null && state.conversations.has(target.conversation)) {
      onOpen(target.conversation);
      return true;
    }
    if (target?.view === 'friends') {
      onFriends();
      return true;
    }
    return false;
  }

  // A click on a push notification while this tab is open (sw.js posts the link).
  globalThis.navigator?.serviceWorker?.addEventListener('message', (e) => {
    if (e.data?.type === 'parley.open' && state.me != null) follow(targetOf(e.data.url));
  });

  return {
    /** After boot: reopen the conversation of the URL, if it is still ours. */
    restore() {
      if (location.search) {
        // A notification's link (/?conversation=5, /?view=friends): follow it, keep the plain URL.
        const target = targetOf(location.href);
        history.replaceState(null, '', location.pathname);
        if (follow(target)) return;
      }
      const cid = conversationFromUrl();
      if (cid == null) return;
      if (state.conversations.has(cid)) onOpen(cid);
      else history.replaceState(null, '', urlFor(null));
    },
    clear() {
      if (conversationFromUrl() != null) history.replaceState(null, '', urlFor(null));
    },
  };
}
