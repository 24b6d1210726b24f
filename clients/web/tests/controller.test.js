// The controller and socket against a fake WebSocket and a fake API:
// auth-first frame, resume after every (re)connect, gap detection, outbox
// retries with the same client_msg_id, dedupe, resync, token refresh.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../js/store.js';
import { createController } from '../js/controller.js';
import { backoffDelay, BACKOFF_MAX_MS } from '../js/socket.js';
import { NetworkError } from '../js/api.js';

class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; FakeWS.all.push(this); }
  send(d) { this.sent.push(JSON.parse(d)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  recv(f) { this.onmessage?.({ data: JSON.stringify(f) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
  types() { return this.sent.map((f) => f.type); }
  static last() { return FakeWS.all[FakeWS.all.length - 1]; }
}

const flush = () => new Promise((r) => setImmediate(r));

function fakeApi() {
  let token = 't1';
  const calls = [];
  const msgs = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => ({
    id: 500 + from + i, conversation_id: 1, seq: from + i, sender_id: 2, sender_username: 'bob', content: `m${from + i}`,
    type: 'text', reactions: {}, created_at: '2024-01-01T00:00:00Z', deleted: false,
  }));
  return {
    calls,
    get accessToken() { return token; },
    async refresh() { calls.push('refresh'); token = 't2'; return token; },
    clearTokens() {},
    async logout() {},
    async me() { return { id: 7, username: 'me' }; },
    async conversations() { return [{ id: 1, type: 'group', name: 'g', members: [], last_seq: 5, unread_count: 0, created_at: '2024-01-01T00:00:00Z', last_message: null }]; },
    async friends() { return []; },
    async friendRequests() { return []; },
    async sentRequests() { return []; },
    async notifications() { return []; },
    async notificationCount() { return { count: 0 }; },
    async receipts() { return []; },
    async messages(cid, q) { calls.push(['messages', cid, q]); return msgs(1, 12); },
    async markRead() {},
    async sendMessage() { throw new NetworkError('offline'); },
  };
}

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

test('backoff grows with jitter and is capped', () => {
  assert.ok(backoffDelay(0, () => 0) >= 250);
  assert.ok(backoffDelay(0, () => 1) <= 500);
  assert.ok(backoffDelay(3, () => 1) <= 4000);
  assert.equal(backoffDelay(30, () => 1), BACKOFF_MAX_MS);
});

test('socket session: auth, resume, outbox, dedupe, gaps, reconnect, resync, token refresh', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  try {
    FakeWS.all = [];
    const api = fakeApi();
    const store = createStore();
    const c = createController({ api, store, apiBase: 'http://h:1', storage: memoryStorage(), WebSocketImpl: FakeWS });
    await c.boot();
    let ws = FakeWS.last();
    assert.equal(ws.url, 'ws://h:1/ws');
    ws.open();
    assert.deepEqual(ws.sent[0], { type: 'auth', token: 't1' });
    ws.recv({ type: 'connected', user_id: 7, heartbeat_interval: 30 });
    assert.deepEqual(ws.sent.at(-1), { type: 'resume', cursors: { 1: 5 } });
    assert.equal(store.state.connection, 'online');

    // Open the conversation: joins and loads the latest page.
    await c.openConversation(1);
    assert.ok(ws.types().includes('join_conversation'));
    assert.equal(store.thread(1).bySeq.size, 12);

    // Optimistic send, "unavailable", retried with the same client_msg_id, then acked.
    const id = c.send(1, '  hello  ');
    assert.equal(store.pendingFor(1).length, 1);
    const first = ws.sent.filter((f) => f.type === 'send_message');
    assert.equal(first.length, 1);
    assert.equal(first[0].client_msg_id, id);
    assert.equal(first[0].content, 'hello');
    ws.recv({ type: 'error', code: 'unavailable', detail: 'db down', retry_after: 1, client_msg_id: id });
    assert.equal(store.state.pending.get(id).status, 'queued');
    mock.timers.tick(1000);
    const again = ws.sent.filter((f) => f.type === 'send_message');
    assert.equal(again.length, 2);
    assert.equal(again[1].client_msg_id, id);
    const mine = { id: 900, conversation_id: 1, seq: 13, sender_id: 7, sender_username: 'me', content: 'hello', client_msg_id: id, type: 'text', reactions: {}, created_at: '2024-01-01T00:01:00Z', deleted: false };
    ws.recv({ type: 'ack', client_msg_id: id, message: mine });
    assert.equal(store.pendingFor(1).length, 0);
    ws.recv({ type: 'new_message', message: mine }); // the echo is a duplicate
    assert.equal(store.thread(1).bySeq.size, 13);
    mock.timers.tick(20000); // no resend after the ack
    assert.equal(ws.sent.filter((f) => f.type === 'send_message').length, 2);

    // A gap (14 missing) asks for a resume of that conversation from 13.
    const other = (seq) => ({ id: 1000 + seq, conversation_id: 1, seq, sender_id: 2, sender_username: 'bob', content: `x${seq}`, type: 'text', reactions: {}, created_at: '2024-01-01T00:02:00Z', deleted: false });
    ws.recv({ type: 'new_message', message: other(15) });
    assert.deepEqual(ws.sent.at(-1), { type: 'resume', cursors: { 1: 13 } });
    assert.ok(ws.sent.some((f) => f.type === 'mark_delivered' && f.seq === 15));

    // Disconnect: reconnect with backoff, auth again, resume from the contiguous cursor.
    ws.drop(1012);
    assert.equal(store.state.connection, 'offline');
    mock.timers.tick(BACKOFF_MAX_MS);
    ws = FakeWS.last();
    assert.equal(FakeWS.all.length, 2);
    ws.open();
    ws.recv({ type: 'connected', user_id: 7, heartbeat_interval: 30 });
    assert.deepEqual(ws.sent.find((f) => f.type === 'resume'), { type: 'resume', cursors: { 1: 13 } });
    ws.recv({ type: 'new_message', message: other(14) });
    ws.recv({ type: 'new_message', message: other(15) });
    ws.recv({ type: 'resumed' });
    assert.equal(store.state.cursors.get(1), 15);
    assert.deepEqual(store.thread(1).sorted().map((m) => m.seq).slice(-3), [13, 14, 15]);

    // Typing from others shows, and expires after 5 s.
    ws.recv({ type: 'typing', conversation_id: 1, user_id: 2, username: 'bob', is_typing: true });
    assert.deepEqual(store.typingNames(1), ['bob']);
    mock.timers.tick(6000);
    assert.deepEqual(store.typingNames(1), []);

    // token_expiring: refresh, then re-auth on the same socket.
    ws.recv({ type: 'token_expiring', expires_at: '2024-01-01T01:00:00Z' });
    await flush();
    assert.deepEqual(ws.sent.at(-1), { type: 'auth', token: 't2' });

    // resync_required: reload the latest page.
    const before = api.calls.filter((x) => x[0] === 'messages').length;
    ws.recv({ type: 'resync_required', conversation_id: 1 });
    await flush(); await flush(); await flush();
    assert.equal(api.calls.filter((x) => x[0] === 'messages').length, before + 1);

    // 4001: refresh the token, then reconnect.
    ws.drop(4001);
    await flush();
    assert.ok(api.calls.filter((x) => x === 'refresh').length >= 2);
    mock.timers.tick(BACKOFF_MAX_MS);
    assert.equal(FakeWS.all.length, 3);

    await c.signOut({ expired: true });
  } finally {
    mock.timers.reset();
  }
});

test('sending while offline queues the message and flushes it on connect', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  try {
    FakeWS.all = [];
    const api = fakeApi();
    const store = createStore();
    const storage = memoryStorage();
    const c = createController({ api, store, apiBase: 'http://h:1', storage, WebSocketImpl: FakeWS });
    await c.boot();
    const id = c.send(1, 'queued one');
    await flush();
    assert.equal(store.state.pending.get(id).status, 'queued');
    assert.ok(storage.getItem('parley.outbox.7').includes(id)); // survives a reload
    const ws = FakeWS.last();
    ws.open();
    ws.recv({ type: 'connected', user_id: 7, heartbeat_interval: 30 });
    const sent = ws.sent.filter((f) => f.type === 'send_message');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].client_msg_id, id);
    await c.signOut({ expired: true });
  } finally {
    mock.timers.reset();
  }
});

test('a send with attachments carries their ids, with or without text, and survives a reload', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  try {
    FakeWS.all = [];
    const api = fakeApi();
    const store = createStore();
    const storage = memoryStorage();
    const c = createController({ api, store, apiBase: 'http://h:1', storage, WebSocketImpl: FakeWS });
    await c.boot();
    const ws = FakeWS.last();
    ws.open();
    ws.recv({ type: 'connected', user_id: 7, heartbeat_interval: 30 });
    const photo = { id: 41, filename: 'a.png', content_type: 'image/png', size: 10, url: '/attachments/41', thumbnail_url: '/attachments/41/thumbnail' };
    assert.equal(c.send(1, '   '), null); // nothing to send
    const id = c.send(1, '', null, [photo]);
    const frame = ws.sent.filter((f) => f.type === 'send_message').at(-1);
    assert.equal(frame.client_msg_id, id);
    assert.equal(frame.content, '');
    assert.deepEqual(frame.attachment_ids, [41]);
    assert.deepEqual(store.state.pending.get(id).attachments, [photo]); // shown at once
    assert.ok(storage.getItem('parley.outbox.7').includes('"attachments":[{"id":41')); // kept for a reload
    c.send(1, 'caption', null, []);
    assert.equal(ws.sent.filter((f) => f.type === 'send_message').at(-1).attachment_ids, undefined);
    await c.signOut({ expired: true });
  } finally {
    mock.timers.reset();
  }
});
