// Wiring: picks the API origin, creates the API client, store and controller,
// mounts the views, and switches between the sign-in screen and the app.
//
// The API is the page's own origin (the gateway serves this folder at /). A
// deployment that serves the page elsewhere names the API in index.html
// (<meta name="parley-api-base">) and allows it in the gateway's CSP
// (PARLEY_WEB_CONNECT_ORIGINS). Never from the URL or storage: a link could
// otherwise send every later request, tokens and passwords, to another origin.

import { createApi } from './api.js';
import { createPush } from './push.js';
import { setAvatarLoader } from './util.js';
import { blobUrl } from './views/files.js';
import { createStore } from './store.js';
import { createController } from './controller.js';
import { mountAuth } from './views/auth.js';
import { mountSidebar } from './views/sidebar.js';
import { mountChat } from './views/chat.js';
import { mountDialogs } from './views/dialogs.js';
import { mountNotifications } from './views/notifications.js';
import { mountAccount } from './views/account.js';
import { mountSwitcher } from './views/switcher.js';
import { mountEmojiPicker } from './views/emoji.js';
import { mountRouter, emailLinkOf } from './router.js';
import { mountRecovery } from './views/recovery.js';
import { mountVerifyBanner } from './views/banner.js';
import { mountPerson } from './views/person.js';
import { toast } from './views/toast.js';
import { $, errorText, tickTimes } from './util.js';

function apiBase() {
  // Older versions kept a ?api= origin here; forget it.
  localStorage.removeItem('parley.apiBase');
  const configured = document.querySelector('meta[name="parley-api-base"]')?.content?.trim() || '';
  return configured.replace(/\/$/, '');
}

const base = apiBase();
const store = createStore();
const appRoot = $('app');
const narrow = window.matchMedia('(max-width: 720px)');

const api = createApi({ base, onAuthLost: () => controller?.signOut({ expired: true }) });
setAvatarLoader((url) => blobUrl(api, url));

// eslint-disable-next-line prefer-const
let controller = createController({
  api,
  store,
  apiBase: base,
  toast,
  isPageVisible: () => document.visibilityState === 'visible',
  onSignedOut: ({ expired, message }) => {
    router.clear();
    if (message) showAuth(message, { notice: true });
    else showAuth(expired ? 'Your session ended. Please sign in again.' : '');
  },
});

const auth = mountAuth({ api, onSignedIn: start });
const recovery = mountRecovery({ api, auth, onContinue: () => (api.isLoggedIn ? start() : showAuth()) });
const person = mountPerson({ store, controller, toast });
const sidebar = mountSidebar({ store, controller, toast, onOpenConversation: openConversation, onOpenPerson: person.open });
mountVerifyBanner({ store, controller, toast });
const dialogs = mountDialogs({ store, controller, toast });
mountNotifications({ store, controller, toast });
mountAccount({ store, controller, push: createPush({ api }), toast, onSignOut: () => controller.signOut() });
const emojiPicker = mountEmojiPicker();
const chat = mountChat({
  store,
  controller,
  emojiPicker,
  onBack: () => {
    controller.closeConversation();
    const item = document.querySelector('[data-testid="conversation-item"][aria-current="true"]') || $('conversation-list');
    item?.focus?.();
  },
  openMembers: () => dialogs.openMembers(),
});

mountSwitcher({ store, controller, onOpen: openConversation });
const router = mountRouter({ store, controller, onOpen: openConversation, onFriends: () => $('tab-friends').click() });

function openConversation(cid) {
  controller.openConversation(cid).catch((e) => toast(errorText(e), { error: true }));
  if (narrow.matches) chat.focusInput();
}

store.on('active', () => {
  appRoot.classList.toggle('show-chat', store.state.activeId != null);
});

store.on('me', () => {
  $('current-user').textContent = store.state.me?.username || '';
});

store.on('connection', () => {
  const node = $('connection-status');
  const s = store.state.connection;
  node.dataset.state = s;
  node.textContent = s === 'online' ? 'Online' : s === 'connecting' ? 'Connecting…' : 'Offline';
});

function showAuth(message = '', options = {}) {
  appRoot.hidden = true;
  auth.show(message, options);
}

async function start() {
  auth.hide();
  appRoot.hidden = false;
  sidebar.render();
  try {
    await controller.boot();
    router.restore();
  } catch (e) {
    if (e?.status === 401) return; // onAuthLost already showed the sign-in screen
    toast(`Could not load your chats: ${errorText(e)}`, { error: true });
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && store.state.activeId != null) controller.markRead(store.state.activeId);
});
window.addEventListener('online', () => controller.reconnectNow());
setInterval(() => tickTimes(), 30000); // "5 min ago" stays true
document.addEventListener('keydown', (e) => {
  // Escape leaves the open conversation on phones, unless it already closed a dialog or a popup.
  if (e.key === 'Escape' && !e.defaultPrevented && narrow.matches && store.state.activeId != null && !document.querySelector('dialog[open]')
      && $('reply-preview').hidden) {
    controller.closeConversation();
  }
});

// An emailed link (/?reset=…, /?verify=…) first; its token leaves the address bar and history at once.
const emailLink = emailLinkOf(location.href);
if (emailLink) {
  history.replaceState(null, '', location.pathname);
  appRoot.hidden = true;
  recovery.open(emailLink);
} else if (api.isLoggedIn) start();
else showAuth();
