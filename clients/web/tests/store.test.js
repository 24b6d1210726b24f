// Unit tests for the DOM-free modules. Run: node --test clients/web/tests/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cursors, Thread, createStore, sortConversations } from '../js/store.js';

const msg = (seq, extra = {}) => ({
  id: 100 + seq, conversation_id: 1, seq, sender_id: 2, sender_username: 'bob', content: `m${seq}`,
  type: 'text', reactions: {}, created_at: `2024-01-01T00:00:${String(seq).padStart(2, '0')}Z`, edited_at: null, deleted: false, ...extra,
});

test('thread dedupes by seq and sorts by seq', () => {
  const t = new Thread(1);
  assert.equal(t.upsert(msg(3)), 'new');
  assert.equal(t.upsert(msg(1)), 'new');
  assert.equal(t.upsert(msg(3)), 'duplicate');
  assert.equal(t.upsert(msg(3, { content: 'edited', edited_at: '2024-01-02T00:00:00Z' })), 'updated');
  assert.deepEqual(t.sorted().map((m) => m.seq), [1, 3]);
  assert.equal(t.bySeq.get(3).content, 'edited');
  assert.equal(t.minSeq, 1);
  assert.equal(t.maxSeq, 3);
});

test('cursors advance contiguously and report gaps', () => {
  const c = new Cursors();
  c.raise(1, 5);
  assert.equal(c.see(1, 6), false);
  assert.equal(c.see(1, 6), false); // duplicate
  assert.equal(c.see(1, 9), true); // gap 7..8
  assert.equal(c.get(1), 6);
  assert.equal(c.see(1, 8), true);
  assert.equal(c.see(1, 7), false);
  assert.equal(c.get(1), 9); // 7 fills the gap, folds 8 and 9
  assert.deepEqual(c.forResume(), { 1: 9 });
  c.reset(1, 3);
  assert.equal(c.get(1), 3);
});

test('a live message confirms the pending send with the same client_msg_id', () => {
  const s = createStore();
  s.setMe({ id: 7, username: 'me' });
  s.addPending({ client_msg_id: 'abc', conversation_id: 1, content: 'hi', status: 'sending', created_at: '2024-01-01T00:00:00Z' });
  assert.equal(s.pendingFor(1).length, 1);
  const fresh = s.addMessages(1, [msg(1, { sender_id: 7, client_msg_id: 'abc' })]);
  assert.equal(fresh.length, 1);
  assert.equal(s.pendingFor(1).length, 0);
  assert.equal(s.addMessages(1, [msg(1, { sender_id: 7, client_msg_id: 'abc' })]).length, 0);
});

test('unread counts a seq once and not while visible; list reorders by activity', () => {
  const s = createStore();
  s.setMe({ id: 7, username: 'me' });
  s.setConversations([
    { id: 1, type: 'group', name: 'a', last_seq: 0, unread_count: 0, created_at: '2024-01-01T00:00:00Z', last_message: null },
    { id: 2, type: 'group', name: 'b', last_seq: 0, unread_count: 0, created_at: '2024-01-02T00:00:00Z', last_message: null },
  ]);
  assert.deepEqual(s.sortedConversations().map((c) => c.id), [2, 1]);
  const m = msg(1, { created_at: '2024-01-03T00:00:00Z' });
  s.noteLiveMessage(m, { visible: false });
  s.noteLiveMessage(m, { visible: false });
  assert.equal(s.state.conversations.get(1).unread_count, 1);
  assert.deepEqual(s.sortedConversations().map((c) => c.id), [1, 2]);
  s.noteLiveMessage(msg(2, { created_at: '2024-01-03T00:00:01Z' }), { visible: true });
  assert.equal(s.state.conversations.get(1).unread_count, 1);
  // A stale list does not roll the summary back.
  s.setConversations([{ id: 1, type: 'group', name: 'a', last_seq: 1, unread_count: 1, created_at: '2024-01-01T00:00:00Z', last_message: null }]);
  assert.equal(s.state.conversations.get(1).last_seq, 2);
  assert.ok(!s.state.conversations.has(2));
});

test('receipts: read by N excludes me, delivered covers read', () => {
  const s = createStore();
  s.setMe({ id: 7, username: 'me' });
  s.setReceipts(1, [
    { user_id: 7, last_read_seq: 10, last_delivered_seq: 10 },
    { user_id: 2, last_read_seq: 4, last_delivered_seq: 6 },
    { user_id: 3, last_read_seq: 0, last_delivered_seq: 0 },
  ]);
  assert.deepEqual(s.receiptFor(1, 5), { read: 0, delivered: 1 });
  s.noteReceipt(1, 3, { read: 5 });
  assert.deepEqual(s.receiptFor(1, 5), { read: 1, delivered: 2 });
});

test('typing expires after 5 s', () => {
  const s = createStore();
  s.setTyping(1, 2, 'bob', true, 1000);
  assert.deepEqual(s.typingNames(1), ['bob']);
  s.expireTyping(5999);
  assert.deepEqual(s.typingNames(1), ['bob']);
  s.expireTyping(6000);
  assert.deepEqual(s.typingNames(1), []);
});

test('conversations without messages sort by creation', () => {
  const list = sortConversations([
    { id: 1, created_at: '2024-01-01T00:00:00Z' },
    { id: 2, created_at: '2024-01-01T00:00:00Z', last_message: { created_at: '2024-02-01T00:00:00Z' } },
  ]);
  assert.deepEqual(list.map((c) => c.id), [2, 1]);
});
