// The account page (a dialog): picture, username, email (changed with the password,
// and only once the new address is confirmed), password, notification preferences
// and push (preferences.js), sessions (sessions.js), blocked users (blocked.js), export
// and deletion (account-data.js), sign-out.

import { $, avatar, errorText } from '../util.js';
import { mountPreferences } from './preferences.js';
import { mountSessions } from './sessions.js';
import { mountAccountData } from './account-data.js';
import { mountBlocked } from './blocked.js';

export function mountAccount({ store, controller, push, toast, onSignOut }) {
  const { state } = store;
  const dialog = $('user-dialog');
  const profile = $('profile-form');
  const password = $('password-form');
  const emailForm = $('email-form');
  const pending = $('email-pending');
  const status = $('account-status');

  function say(text, { error = false } = {}) {
    status.textContent = text;
    status.classList.toggle('error', error);
    status.classList.toggle('ok', !error);
  }

  async function busy(form, fn, done) {
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    say('');
    try {
      await fn();
      say(done);
    } catch (e) {
      say(errorText(e), { error: true });
    } finally {
      button.disabled = false;
    }
  }

  const preferences = mountPreferences({ store, controller, push, say, busy });
  const sessions = mountSessions({ controller, say });
  const blocked = mountBlocked({ store, controller, say, toast });
  mountAccountData({ controller, say, closeAccount: () => dialog.close() });

  function renderPending() {
    const address = state.me?.pending_email;
    pending.hidden = !address;
    pending.textContent = address ? `Confirmation sent to ${address}. Your address changes once you open the link in it.` : '';
  }

  function renderAvatar() {
    $('account-avatar').replaceChildren(avatar(state.me?.username, { url: state.me?.avatar_url }));
    $('avatar-remove').hidden = !state.me?.avatar_url;
  }

  $('avatar-choose').addEventListener('click', () => $('avatar-input').click());
  $('avatar-input').addEventListener('change', async () => {
    const file = $('avatar-input').files[0];
    $('avatar-input').value = '';
    if (!file) return;
    say('Uploading picture…');
    try {
      await controller.setAvatar(file);
      renderAvatar();
      say('Picture saved.');
    } catch (e) {
      say(errorText(e), { error: true });
    }
  });
  $('avatar-remove').addEventListener('click', async () => {
    try {
      await controller.removeAvatar();
      renderAvatar();
      say('Picture removed.');
    } catch (e) {
      say(errorText(e), { error: true });
    }
  });

  $('user-menu-button').addEventListener('click', () => {
    renderAvatar();
    $('user-dialog-name').textContent = state.me?.username || '';
    profile.elements.username.value = state.me?.username || '';
    emailForm.reset();
    emailForm.elements.email.value = state.me?.email || '';
    renderPending();
    password.reset();
    say('');
    dialog.showModal();
    preferences.load();
    sessions.load();
    blocked.load();
  });

  profile.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = profile.elements;
    busy(profile, async () => {
      await controller.updateProfile({ username: f.username.value.trim() });
      $('user-dialog-name').textContent = state.me?.username || '';
    }, 'Profile saved.');
  });

  emailForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = emailForm.elements;
    const email = f.email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { say('Enter a valid email address.', { error: true }); return; }
    if (email.toLowerCase() === (state.me?.email || '').toLowerCase()) { say('That is your address already.', { error: true }); return; }
    if (!f.password.value) { say('Enter your password to change the address.', { error: true }); return; }
    busy(emailForm, async () => {
      await controller.changeEmail(email, f.password.value);
      f.password.value = '';
      renderPending(); // "Confirmation sent to …" under the address
    }, 'Check the new address for the confirmation link.');
  });

  password.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = password.elements;
    if (f.next.value.length < 8) { say('New passwords have at least 8 characters.', { error: true }); return; }
    busy(password, async () => {
      await controller.changePassword(f.current.value, f.next.value);
      password.reset();
    }, 'Password changed. Your other sessions were signed out.');
  });

  $('logout-button').addEventListener('click', () => { dialog.close(); onSignOut(); });
}
