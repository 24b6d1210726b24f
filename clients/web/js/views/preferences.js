// Notification preferences in the account page: missed-message email, its delay
// and the daily digest, message previews in pushes, and per type (as the server
// lists them in `channels`, `host` included) the channels in app / email / push.
// Saving sends only what changed. Below, Web Push for this browser: a button the
// user clicks (never a prompt on load), hidden when the server has no VAPID key.

import { $, el, errorText } from '../util.js';
import { CHANNELS, channelTypes, parseDelay, preferenceChanges, typeLabel } from '../preferences.js';

export function mountPreferences({ store, controller, push, say, busy }) {
  const { state } = store;
  const form = $('prefs-form');
  const grid = $('pref-channels');
  const pushSection = $('push-section');
  const pushStatus = $('push-status');
  const enableButton = $('push-enable');
  const disableButton = $('push-disable');
  let saved = null; // what the server last said

  function renderChannels(prefs) {
    const head = el('tr', {}, el('th', { scope: 'col' }, 'Type'), ...CHANNELS.map((c) => el('th', { scope: 'col' }, c.label)));
    const rows = channelTypes(prefs).map((type) => el('tr', { testid: 'pref-channel-row', 'data-type': type },
      el('th', { scope: 'row' }, typeLabel(type)),
      ...CHANNELS.map((c) => el('td', {}, el('input', {
        type: 'checkbox', testid: 'pref-channel', 'data-type': type, 'data-channel': c.key,
        'aria-label': `${typeLabel(type)}: ${c.label}`, checked: !!prefs.channels[type]?.[c.key],
      })))));
    grid.replaceChildren(el('caption', { class: 'sr-only' }, 'Where each kind of notification reaches you'),
      el('thead', {}, head), el('tbody', {}, ...rows));
  }

  function fill(prefs) {
    saved = structuredClone(prefs);
    const f = form.elements;
    f.email_missed_messages.checked = !!prefs.email_missed_messages;
    f.email_delay_minutes.value = String(prefs.email_delay_minutes ?? '');
    f.digest.value = prefs.digest || 'off';
    f.push_previews.checked = prefs.push_previews !== false;
    renderChannels(prefs);
  }

  function edited() {
    const f = form.elements;
    const channels = {};
    for (const box of grid.querySelectorAll('input[data-channel]')) {
      (channels[box.dataset.type] ||= {})[box.dataset.channel] = box.checked;
    }
    const delay = parseDelay(f.email_delay_minutes.value);
    if (delay.error) throw new Error(delay.error);
    return {
      email_missed_messages: f.email_missed_messages.checked,
      email_delay_minutes: delay.value,
      digest: f.digest.value,
      push_previews: f.push_previews.checked,
      channels,
    };
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    let change;
    try {
      change = preferenceChanges(saved, edited());
    } catch (err) {
      form.elements.email_delay_minutes.setAttribute('aria-invalid', 'true');
      say(err.message, { error: true });
      return;
    }
    form.elements.email_delay_minutes.removeAttribute('aria-invalid');
    if (!Object.keys(change).length) { say('Nothing to save.'); return; }
    busy(form, async () => fill(await controller.savePreferences(change)), 'Notification settings saved.');
  });

  // ---- Web Push in this browser ----
  function showPush(state_) {
    pushSection.hidden = state_ === 'unavailable';
    pushSection.dataset.state = state_;
    enableButton.hidden = state_ !== 'off';
    disableButton.hidden = state_ !== 'on';
    pushStatus.textContent = {
      on: 'This browser gets push notifications when Parley is not open.',
      off: 'Get notifications on this device when Parley is not open.',
      blocked: 'Notifications are blocked for this site. Allow them in the browser’s site settings.',
      unavailable: '',
    }[state_] || '';
  }

  async function refreshPush() {
    try {
      showPush(await push.status(state.me?.id));
    } catch {
      showPush('unavailable');
    }
  }

  async function pushAction(button, fn, done) {
    button.disabled = true;
    say('');
    try {
      await fn(state.me?.id);
      say(done);
    } catch (e) {
      say(errorText(e), { error: true });
    } finally {
      button.disabled = false;
      await refreshPush();
    }
  }
  enableButton.addEventListener('click', () => pushAction(enableButton, push.enable, 'Push notifications are on for this browser.'));
  disableButton.addEventListener('click', () => pushAction(disableButton, push.disable, 'Push notifications are off for this browser.'));

  return {
    async load() {
      pushSection.hidden = true;
      refreshPush();
      try {
        fill(await controller.preferences());
        form.hidden = false;
      } catch {
        form.hidden = true; // no preferences on this server
      }
    },
  };
}
