// One URL per conversation (#/c/<id>): reload reopens it, and back/forward move
// between conversations. A hash, so the gateway serves the same page for all.

export function conversationFromUrl(loc = globalThis.location) {
  const m = loc.hash.match(/^#\/c\/(\d+)$/);
  return m ? Number(m[1]) : null;
}

export function mountRouter({ store, controller, onOpen }) {
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

  return {
    /** After boot: reopen the conversation of the URL, if it is still ours. */
    restore() {
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
