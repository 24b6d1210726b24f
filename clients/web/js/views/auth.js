// Sign-in and registration forms. Registration signs in right away.

import { $, errorText } from '../util.js';

export function mountAuth({ api, onSignedIn }) {
  const screen = $('auth-screen');
  const loginForm = $('login-form');
  const registerForm = $('register-form');
  const error = $('auth-error');
  const tabLogin = $('tab-login');
  const tabRegister = $('tab-register');

  function select(register) {
    tabLogin.setAttribute('aria-selected', String(!register));
    tabRegister.setAttribute('aria-selected', String(register));
    tabLogin.tabIndex = register ? -1 : 0;
    tabRegister.tabIndex = register ? 0 : -1;
    loginForm.hidden = register;
    registerForm.hidden = !register;
    error.textContent = '';
    (register ? registerForm : loginForm).querySelector('input').focus();
  }
  tabLogin.addEventListener('click', () => select(false));
  tabRegister.addEventListener('click', () => select(true));
  for (const tab of [tabLogin, tabRegister]) {
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const toRegister = tab === tabLogin;
        select(toRegister);
        (toRegister ? tabRegister : tabLogin).focus();
      }
    });
  }

  async function busy(form, fn) {
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    error.textContent = '';
    try {
      await fn();
    } catch (e) {
      error.textContent = e.status === 429 ? 'Too many attempts. Wait a moment and try again.' : errorText(e);
    } finally {
      button.disabled = false;
    }
  }

  loginForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = loginForm.elements;
    if (!f.username.value.trim() || !f.password.value) { error.textContent = 'Enter your username and password.'; return; }
    busy(loginForm, async () => {
      await api.login(f.username.value.trim(), f.password.value);
      loginForm.reset();
      await onSignedIn();
    });
  });

  registerForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = registerForm.elements;
    const username = f.username.value.trim();
    const email = f.email.value.trim();
    const password = f.password.value;
    if (username.length < 3) { error.textContent = 'Usernames have at least 3 characters.'; return; }
    if (!email.includes('@')) { error.textContent = 'Enter a valid email address.'; return; }
    if (password.length < 8) { error.textContent = 'Passwords have at least 8 characters.'; return; }
    busy(registerForm, async () => {
      await api.register(username, email, password);
      await api.login(username, password);
      registerForm.reset();
      await onSignedIn();
    });
  });

  return {
    show(message = '') {
      screen.hidden = false;
      error.textContent = message;
      select(false);
      error.textContent = message;
    },
    hide() { screen.hidden = true; },
  };
}
