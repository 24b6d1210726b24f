// Blocks, unfriend and a group's picture against the real api.js (fake fetch, fake
// XMLHttpRequest for the multipart upload) and the real store and controller; and the
// DOM-free checks of people.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApi } from '../js/api.js';
import { createStore } from '../js/store.js';
import { createController } from '../js/controller.js';
import { pictureProblem, uploadText, relationTo, blockedIn } from '../js/people.js';

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

function setup(routes) {
  const calls = [];
  const fetchImpl = async (url, init = {}) => {
    const path = url.replace('http://h', '');
    const body = init.body === undefined ? undefined : JSON.parse(init.body);
    calls.push({ method: init.method, path, body });
    let answer = routes[`${init.method} ${path}`] || { status: 404, body: { detail: 'Not Found' } };
    if (typeof answer === 'function') answer = answer(body);
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    return { ok: answer.status < 300, status: answer.status, statusText: '', text: async () => text };
  };
  const storage = memoryStorage();
  storage.setItem('parley.tokens', JSON.stringify({ access_token: 'a1', refresh_token: 'r1', expires_at: null }));
  const api = createApi({ base: 'http://h', storage, fetchImpl });
  const store = createStore();
  const c = createController({ api, store, storage, toast: () => {}, onSignedOut: () => {} });
  store.setMe({ id: 7, username: 'me' });
  return { api, store, c, calls };
}

const ok = { status: 200, body: { status: 'ok' } };
const relations = {
  'GET /friends': { status: 200, body: [] },
  'GET /friends/requests': { status: 200, body: [] },
  'GET /friends/requests/sent': { status: 200, body: [] },
};

test('a picture must be an image the avatar routes take, and not empty', () => {
  assert.equal(pictureProblem({ name: 'a.png', type: 'image/png', size: 10 }), null);
  assert.match(pictureProblem({ name: 'cv.pdf', type: 'application/pdf', size: 10 }), /cv\.pdf is not a picture/);
  assert.match(pictureProblem({ name: 'x.svg', type: 'image/svg+xml', size: 10 }), /not a picture/);
  assert.match(pictureProblem({ name: 'e.png', type: 'image/png', size: 0 }), /empty/);
  assert.equal(pictureProblem(null), 'Choose a picture.');
  assert.equal(uploadText(0.404), 'Uploading picture… 40 %');
  assert.equal(uploadText(7), 'Uploading picture… 100 %');
  assert.equal(uploadText(undefined), 'Uploading picture… 0 %');
});

test('blocking a friend: POST /blocks, no longer a friend, the direct chat knows; unblock tolerates 404', async () => {
  const { store, c, calls } = setup({
    ...relations,
    'POST /blocks': ok,
    'GET /blocks': { status: 200, body: [{ id: 9, username: 'bob', email: null, blocked_at: '2026-01-01T00:00:00Z' }] },
    'DELETE /blocks/9': { status: 404, body: { detail: 'Block not found', code: 'block_not_found' } },
  });
  store.setFriends([{ id: 9, username: 'bob' }]);
  const direct = { id: 3, type: 'direct', members: [{ user: { id: 7, username: 'me' } }, { user: { id: 9, username: 'bob' } }] };
  store.upsertConversation(direct);
  assert.equal(relationTo(store.state, 9), 'friend');
  assert.equal(blockedIn(store.state, store.state.conversations.get(3)), null);

  await c.block({ id: 9, username: 'bob' });
  assert.deepEqual(calls.find((x) => x.method === 'POST'), { method: 'POST', path: '/blocks', body: { user_id: 9 } });
  assert.equal(relationTo(store.state, 9), 'blocked');
  assert.equal(store.state.friends.has(9), false);
  assert.equal(blockedIn(store.state, store.state.conversations.get(3))?.username, 'bob');
  assert.deepEqual(store.blockedList().map((b) => b.username), ['bob']);
  // A group with bob in it is not "blocked": the server refuses only direct messages.
  assert.equal(blockedIn(store.state, { ...direct, type: 'group' }), null);

  await c.unblock(9); // already unblocked on another device: 404 is fine
  assert.equal(relationTo(store.state, 9), 'none');
  store.reset();
  assert.equal(store.state.blocked.size, 0);
});

test('removing a friend is DELETE /friends/{id}; a refusal is thrown with the server text', async () => {
  const { store, c, calls } = setup({ ...relations, 'DELETE /friends/9': ok });
  store.setFriends([{ id: 9, username: 'bob' }, { id: 10, username: 'cy' }]);
  await c.removeFriend(9);
  assert.ok(calls.some((x) => x.method === 'DELETE' && x.path === '/friends/9'));
  assert.equal(store.state.friends.has(9), false);
  await assert.rejects(c.removeFriend(11), /Not Found/);
});

test("a group's picture: PUT multipart `file` with progress, DELETE; the list and header follow", async () => {
  const sent = [];
  globalThis.XMLHttpRequest = class {
    constructor() { this.upload = {}; this.headers = {}; }
    open(method, url) { this.method = method; this.url = url; }
    setRequestHeader(k, v) { this.headers[k] = v; }
    send(form) {
      sent.push({ method: this.method, url: this.url, file: form.get('file'), auth: this.headers.Authorization });
      this.upload.onprogress({ lengthComputable: true, loaded: 5, total: 10 });
      this.status = 200;
      this.responseText = JSON.stringify({ id: 4, type: 'group', name: 'Trip', avatar_url: '/conversations/4/avatar?v=abc' });
      this.onload();
    }
  };
  try {
    const { store, c, calls } = setup({
      'DELETE /conversations/4/avatar': { status: 200, body: { id: 4, type: 'group', name: 'Trip', avatar_url: null } },
    });
    store.upsertConversation({ id: 4, type: 'group', name: 'Trip', avatar_url: null, last_seq: 3 });
    const progress = [];
    await c.setGroupAvatar(4, new Blob(['png'], { type: 'image/png' }), (f) => progress.push(f));
    assert.equal(sent[0].method, 'PUT');
    assert.equal(sent[0].url, 'http://h/conversations/4/avatar');
    assert.equal(sent[0].auth, 'Bearer a1');
    assert.equal(await sent[0].file.text(), 'png');
    assert.deepEqual(progress, [0.5]);
    assert.equal(store.state.conversations.get(4).avatar_url, '/conversations/4/avatar?v=abc');
    assert.equal(store.state.conversations.get(4).last_seq, 3); // the rest of the row is kept

    await c.removeGroupAvatar(4);
    assert.ok(calls.some((x) => x.method === 'DELETE' && x.path === '/conversations/4/avatar'));
    assert.equal(store.state.conversations.get(4).avatar_url, null);

    // Another member's page: the conversation_updated frame carries the new avatar_url.
    c.handleFrame({ type: 'conversation_updated', conversation: { id: 4, type: 'group', name: 'Trip', avatar_url: '/conversations/4/avatar?v=new' } });
    assert.equal(store.state.conversations.get(4).avatar_url, '/conversations/4/avatar?v=new');
  } finally {
    delete globalThis.XMLHttpRequest;
  }
});
