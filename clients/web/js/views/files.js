// Attachments in messages (image previews, file cards) and avatars (an image, or the
// initials when there is none). Their bytes need the access token, so they are fetched with
// it and shown through blob: URLs, cached per URL for the page's life.

import { el } from '../util.js';

const urls = new Map(); // path -> Promise<blob: URL>

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function blobUrl(api, path) {
  if (!urls.has(path)) {
    const p = api.blob(path).then((b) => URL.createObjectURL(b));
    p.catch(() => urls.delete(path)); // try again next time
    urls.set(path, p);
  }
  return urls.get(path);
}

function imageTile(api, a) {
  const img = el('img', { alt: a.filename, testid: 'attachment-image', width: a.width || null, height: a.height || null });
  blobUrl(api, a.thumbnail_url || a.url).then((src) => { img.src = src; }).catch(() => { img.alt = `${a.filename} (unavailable)`; });
  return el('button', {
    type: 'button', class: 'attachment-image', 'aria-label': `Open image ${a.filename}`,
    onclick: async () => {
      const src = await blobUrl(api, a.url);
      globalThis.open(src, '_blank', 'noopener');
    },
  }, img);
}

function fileCard(api, a) {
  return el('div', { class: 'attachment-file', testid: 'attachment-file', 'data-content-type': a.content_type },
    el('span', { class: 'file-icon', 'aria-hidden': 'true' }, '📄'),
    el('span', { class: 'file-name', testid: 'attachment-name' }, a.filename),
    el('span', { class: 'file-size muted' }, formatBytes(a.size)),
    el('button', {
      type: 'button', class: 'file-download', testid: 'attachment-download', 'aria-label': `Download ${a.filename}`,
      onclick: async () => {
        const href = await blobUrl(api, a.url);
        const link = el('a', { href, download: a.filename, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
      },
    }, 'Download'));
}

/** The attachments of a message, images first as previews, then file cards. */
export function renderAttachments(api, attachments) {
  if (!attachments?.length) return null;
  const images = attachments.filter((a) => a.thumbnail_url);
  const files = attachments.filter((a) => !a.thumbnail_url);
  return el('div', { class: 'attachments', testid: 'attachments' },
    images.length ? el('div', { class: 'attachment-images' }, images.map((a) => imageTile(api, a))) : null,
    files.map((a) => fileCard(api, a)));
}
