// The account page (a dialog): username and email, password, notification
// preferences and push (preferences.js), sessions and sign-out. It offers what the backend has: there is
// no route that lists sessions, so it says how to end the others (a password
// change signs out every other session) instead of showing a list it cannot fill.

import { $, avatar, errorText } from '../util.js';
import { mountPreferences } from './preferences.js';

export function mountAccount({ store, controller, push, onSignOut }) {
  const { state } = store;
  const dialog = $('user-dialog');
  const profile = $('profile-form');
  const password = $('password-form');
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
    profile.elements.email.value = state.me?.email || '';
    password.reset();
    say('');
    dialog.showModal();
    preferences.load();
  });

  profile.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = profile.elements;
    busy(profile, async () => {
      await controller.updateProfile({ username: f.username.value.trim(), email: f.email.value.trim() });
      $('user-dialog-name').textContent = state.me?.username || '';
    }, 'Profile saved.');
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
