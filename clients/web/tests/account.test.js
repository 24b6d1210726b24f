// Issue 17's client logic against the real api.js with a fake fetch (the routes as the
// server answers them): email change (pending until confirmed), delete account (DELETE with
// the password, then signed out), export, sessions, hide/delete a conversation and the
// conversation_deleted frame, writing to a friend by recipient_id, the emailed links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApi } from '../js/api.js';
import { createStore } from '../js/store.js';
import { createController } from '../js/controller.js';
import { emailLinkOf } from '../js/router.js';
import { describeAgent, orderSessions } from '../js/sessions.js';

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

/** fetch that answers `routes["METHOD /path"]` ({status, body} or a function of the request body). */
function fakeFetch(routes) {
  const calls = [];
  const fetchImpl = async (url, init = {}) => {
    const path = url.replace('http://h', '');
    const body = init.body === undefined ? undefined : JSON.parse(init.body);
    calls.push({ method: init.method, path, body, auth: init.headers?.Authorization });
    let answer = routes[`${init.method} ${path}`];
    if (typeof answer === 'function') answer = answer(body);
    if (!answer) answer = { status: 404, body: { detail: 'Not Found' } };
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    return { ok: answer.status < 300, status: answer.status, statusText: '', text: async () => text };
  };
  return { fetchImpl, calls };
}

function setup(routes) {
  const { fetchImpl, calls } = fakeFetch(routes);
  const storage = memoryStorage();
  storage.setItem('parley.tokens', JSON.stringify({ access_token: 'a1', refresh_token: 'r1', expires_at: null }));
  const api = createApi({ base: 'http://h', storage, fetchImpl });
  const store = createStore();
  const signedOut = [];
  const toasts = [];
  const c = createController({
    api, store, storage, toast: (t) => toasts.push(t), onSignedOut: (o) => signedOut.push(o),
  });
  store.setMe({ id: 7, username: 'me', email: 'me@example.com', email_verified: true });
  return { api, store, c, calls, storage, signedOut, toasts };
}

test('changing the email waits for the new address: pending shown, wrong password refused', async () => {
  const { c, store, calls } = setup({
    'POST /users/me/email': (b) => (b.password === 'right one'
      ? { status: 202, body: { status: 'pending', pending_email: b.email } }
      : { status: 400, body: { detail: 'Password is incorrect', code: 'wrong_password' } }),
  });
  await assert.rejects(c.changeEmail('new@example.com', 'wrong'), (e) => e.status === 400 && e.message === 'Password is incorrect');
  assert.equal(store.state.me.pending_email, undefined);
  const said = await c.changeEmail('new@example.com', 'right one');
  assert.deepEqual(calls.at(-1).body, { email: 'new@example.com', password: 'right one' });
  assert.equal(store.state.me.pending_email, 'new@example.com');
  assert.equal(store.state.me.email, 'me@example.com'); // unchanged until confirmed
  assert.match(said, /^Confirmation sent to new@example\.com/);
});

test('deleting the account sends the password, then signs out to the sign-in screen', async () => {
  const { c, calls, storage, signedOut, store } = setup({
    'DELETE /users/me': (b) => (b?.password === 'pw right'
      ? { status: 204 }
      : { status: 400, body: { detail: 'Password is incorrect' } }),
  });
  await assert.rejects(c.deleteAccount('nope'), /Password is incorrect/);
  assert.equal(signedOut.length, 0);
  assert.ok(storage.getItem('parley.tokens'));
  await c.deleteAccount('pw right');
  const del = calls.filter((x) => x.method === 'DELETE');
  assert.deepEqual(del.at(-1), { method: 'DELETE', path: '/users/me', body: { password: 'pw right' }, auth: 'Bearer a1' });
  assert.equal(storage.getItem('parley.tokens'), null);
  assert.deepEqual(signedOut, [{ expired: true, message: 'Your account was deleted.' }]);
  assert.equal(store.state.me, null);
  assert.ok(!calls.some((x) => x.path === '/auth/logout'), 'no logout call for a deleted account');
});

test('export answers with the promise of an email; sessions are listed and ended', async () => {
  const { c, calls } = setup({
    'POST /users/me/export': { status: 202, body: { status: 'pending' } },
    'GET /auth/sessions': { status: 200, body: [] },
    'DELETE /auth/sessions/abc123': { status: 200, body: { status: 'ok' } },
    'POST /auth/sessions/revoke-others': { status: 200, body: { status: 'ok', revoked: 2 } },
  });
  assert.equal(await c.exportData(), 'We will email you a download link.');
  assert.deepEqual(await c.sessions(), []);
  await c.revokeSession('abc123');
  assert.equal(await c.revokeOtherSessions(), 'Signed out 2 other sessions.');
  assert.deepEqual(calls.map((x) => `${x.method} ${x.path}`), [
    'POST /users/me/export', 'GET /auth/sessions', 'DELETE /auth/sessions/abc123', 'POST /auth/sessions/revoke-others',
  ]);
});

test('the verification banner state: resend, and a reload after the link was opened', async () => {
  let verified = false;
  const { c, store } = setup({
    'POST /auth/verify/resend': { status: 200, body: { status: 'ok', message: 'A verification link is on its way to me@example.com' } },
    'GET /auth/me': () => ({ status: 200, body: { id: 7, username: 'me', email: 'me@example.com', email_verified: verified } }),
  });
  assert.equal(await c.resendVerification(), 'A verification link is on its way to me@example.com');
  await c.reloadMe();
  assert.equal(store.state.me.email_verified, false);
  verified = true;
  await c.reloadMe();
  assert.equal(store.state.me.email_verified, true);
});

const direct = { id: 3, type: 'direct', members: [{ user: { id: 7, username: 'me' } }, { user: { id: 8, username: 'ben' } }], last_seq: 2, unread_count: 0, created_at: '2024-01-01T00:00:00Z' };
const group = { id: 4, type: 'group', name: 'Weekend', members: [], last_seq: 1, unread_count: 0, created_at: '2024-01-01T00:00:00Z' };
const msg = (cid, seq, sender = 8) => ({ id: 100 + seq, conversation_id: cid, seq, sender_id: sender, sender_username: 'ben', content: `m${seq}`, type: 'text', reactions: {}, created_at: '2024-01-02T00:00:00Z' });
const flush = () => new Promise((r) => setImmediate(r));

test('a hidden direct chat leaves the list and comes back with a new message', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] }); // the 5 s "leaving" mark must not hold node open
  const { c, store, calls } = setup({
    'DELETE /conversations/3': { status: 200, body: { status: 'ok' } },
    'GET /conversations/3': { status: 200, body: { ...direct, last_seq: 3, unread_count: 1, last_message: msg(3, 3) } },
  });
  store.setConversations([direct, group]);
  await c.hideOrDelete(3);
  assert.ok(!store.state.conversations.has(3));
  assert.equal(calls.at(-1).method, 'DELETE');
  c.handleFrame({ type: 'new_message', message: msg(3, 3) });
  await flush();
  const back = store.state.conversations.get(3);
  assert.equal(back.last_seq, 3);
  assert.equal(back.unread_count, 1);
});

test('conversation_deleted drops the group and leaves it when open, with a word from whom', async () => {
  const { c, store, toasts } = setup({});
  store.setConversations([direct, group]);
  store.setActive(4);
  c.handleFrame({ type: 'conversation_deleted', conversation_id: 4, deleted_by: { id: 8, username: 'ben' } });
  assert.ok(!store.state.conversations.has(4));
  assert.equal(store.state.activeId, null);
  assert.deepEqual(toasts, ['ben deleted Weekend']);
  c.handleFrame({ type: 'conversation_deleted', conversation_id: 4, deleted_by: { id: 8, username: 'ben' } });
  assert.equal(toasts.length, 1); // a repeat (at-least-once delivery) changes nothing
});

test('writing to a friend posts recipient_id and shows the (new) chat in the list', async () => {
  const sent = { ...msg(9, 1, 7), sender_username: 'me', content: 'hello there' };
  const { c, store, calls } = setup({
    'POST /messages': (b) => ({ status: 201, body: { ...sent, client_msg_id: b.client_msg_id } }),
    'GET /conversations/9': { status: 200, body: { ...direct, id: 9, last_seq: 1, last_message: sent } },
  });
  store.setConversations([]);
  await c.sendTo(8, '  hello there ');
  const post = calls.find((x) => x.method === 'POST');
  assert.equal(post.body.recipient_id, 8);
  assert.equal(post.body.content, 'hello there');
  assert.equal(post.body.conversation_id, undefined);
  assert.match(post.body.client_msg_id, /^[0-9a-f-]{36}$/);
  await flush();
  assert.equal(store.state.conversations.get(9).last_message.content, 'hello there');
  assert.equal(store.state.activeId, null); // the chat was not opened
});

test('emailed links: reset and verify tokens are recognised, anything else is not', () => {
  const token = 'A'.repeat(43);
  assert.deepEqual(emailLinkOf(`http://h/?reset=${token}`, 'http://h'), { kind: 'reset', token });
  assert.deepEqual(emailLinkOf(`/?verify=${token}-_x`, 'http://h'), { kind: 'verify', token: `${token}-_x` });
  assert.equal(emailLinkOf('/?reset=short', 'http://h'), null);
  assert.equal(emailLinkOf(`/?reset=${token}<script>`, 'http://h'), null);
  assert.equal(emailLinkOf('/?conversation=5', 'http://h'), null);
});

test('sessions are named by browser and system, the current one first', () => {
  assert.equal(describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'), 'Chrome on Linux');
  assert.equal(describeAgent('Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0'), 'Firefox on Windows');
  assert.equal(describeAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1'), 'Safari on iOS');
  assert.equal(describeAgent('python-httpx/0.27.0'), 'python-httpx');
  assert.equal(describeAgent(null), 'Unknown device');
  const list = orderSessions([
    { id: 'a', current: false, created_at: '2024-01-01T00:00:00Z', last_used_at: '2024-01-03T00:00:00Z' },
    { id: 'b', current: true, created_at: '2024-01-01T00:00:00Z', last_used_at: null },
    { id: 'c', current: false, created_at: '2024-01-04T00:00:00Z', last_used_at: null },
  ]);
  assert.deepEqual(list.map((s) => s.id), ['b', 'c', 'a']);
});
