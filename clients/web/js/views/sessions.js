// Account page: where you are signed in (GET /auth/sessions), each with "Sign out",
// and "Sign out all other sessions". An ended session's sockets close at once.

import { $, el, timeAgo, errorText } from '../util.js';
import { describeAgent, orderSessions } from '../sessions.js';

export function mountSessions({ controller, say }) {
  const list = $('session-list');
  const others = $('sessions-revoke-others');

  function row(s) {
    const name = describeAgent(s.user_agent);
    return el('li', { class: 'person', testid: 'session-item', 'data-session-id': s.id, 'data-current': s.current ? 'true' : 'false' },
      el('span', { class: 'name' },
        name, s.current ? el('span', { class: 'role-tag', testid: 'session-current' }, 'this browser') : null,
        el('span', { class: 'sub' }, `${s.address || 'Unknown address'} · signed in `, timeAgo(s.created_at),
          s.last_used_at ? [' · last used ', timeAgo(s.last_used_at)] : null)),
      s.current ? null : el('span', { class: 'actions' },
        el('button', {
          type: 'button', testid: 'session-revoke', 'aria-label': `Sign out ${name} (${s.address || 'unknown address'})`,
          onclick: () => act(() => controller.revokeSession(s.id), 'Session signed out.'),
        }, 'Sign out')));
  }

  async function load() {
    try {
      const sessions = orderSessions(await controller.sessions());
      list.replaceChildren(...sessions.map(row));
      others.hidden = !sessions.some((s) => !s.current);
    } catch (e) {
      list.replaceChildren(el('li', { class: 'error' }, `Could not list your sessions: ${errorText(e)}`));
      others.hidden = true;
    }
  }

  async function act(fn, done) {
    try {
      const said = await fn();
      say(typeof said === 'string' ? said : done);
    } catch (e) {
      say(errorText(e), { error: true });
    }
    await load();
  }

  others.addEventListener('click', () => act(() => controller.revokeOtherSessions()));
  return { load };
}
