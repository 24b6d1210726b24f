// Message text → rich text tokens: links (http/https only), mentions of members only,
// and relative times. DOM-free, so node runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize, safeUrl, mentionsUser } from '../js/format.js';
import { relativeTime } from '../js/util.js';
import { searchEmoji } from '../js/emoji-data.js';

const bob = { id: 2, username: 'bob' };
const members = new Map([['bob', bob], ['ann.lee', { id: 3, username: 'ann.lee' }]]);

test('links: http and https only, trailing punctuation left out', () => {
  const t = tokenize('see https://example.com/a?b=1. or (http://x.org/y) javascript:alert(1) ftp://f', members);
  assert.deepEqual(t.filter((x) => x.type === 'link').map((x) => x.href), ['https://example.com/a?b=1', 'http://x.org/y']);
  assert.equal(t.map((x) => x.text).join(''), 'see https://example.com/a?b=1. or (http://x.org/y) javascript:alert(1) ftp://f');
  assert.equal(safeUrl('javascript:alert(1)'), null);
  assert.equal(safeUrl('https://ok.example/'), 'https://ok.example/');
});

test('mentions: only members, case-insensitive, a trailing dot is punctuation', () => {
  const t = tokenize('hi @Bob and @nobody, @ann.lee. mail bob@example.com', members);
  assert.deepEqual(t.filter((x) => x.type === 'mention').map((x) => [x.text, x.user.id]), [['@Bob', 2], ['@ann.lee', 3]]);
  assert.equal(t.map((x) => x.text).join(''), 'hi @Bob and @nobody, @ann.lee. mail bob@example.com');
  assert.ok(mentionsUser({ content: 'hey @bob' }, bob));
  assert.ok(mentionsUser({ content: 'no name', mentions: [2] }, bob));
  assert.ok(!mentionsUser({ content: 'hey @bobby' }, bob));
});

test('relative times', () => {
  const now = Date.parse('2024-05-10T12:00:00Z');
  assert.equal(relativeTime('2024-05-10T11:59:40Z', now), 'just now');
  assert.equal(relativeTime('2024-05-10T11:55:00Z', now), '5 min ago');
  assert.equal(relativeTime('not a date', now), '');
});

test('emoji search by name', () => {
  assert.ok(searchEmoji('tada').some((e) => e.char === '🎉'));
  assert.ok(searchEmoji('').length > 100);
  assert.equal(searchEmoji('zzzzqq').length, 0);
});

test('attachment helpers: sizes and what a message without text says', async () => {
  const { formatBytes } = await import('../js/views/files.js');
  const { describe } = await import('../js/views/message.js');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(25 * 1024 * 1024), '25 MB');
  const img = { thumbnail_url: '/t' };
  const doc = { thumbnail_url: null };
  assert.equal(describe({ content: 'hi', attachments: [img] }), 'hi');
  assert.equal(describe({ content: '', attachments: [img] }), 'sent a photo');
  assert.equal(describe({ content: '', attachments: [img, img] }), 'sent 2 photos');
  assert.equal(describe({ content: '', attachments: [img, doc] }), 'sent 2 files');
});
