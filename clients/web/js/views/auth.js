// Sign-in and registration forms. Registration checks every field at once and
// shows each problem under its field (and the server's 422 list the same way),
// then signs in right away. The recovery panels (forgot, reset, verify: recovery.js)
// take the card's place through showPanel().

import { $, errorText } from '../util.js';

export function mountAuth({ api, onSignedIn }) {
  const screen = $('auth-screen');
  const loginForm = $('login-form');
  const registerForm = $('register-form');
  const error = $('auth-error');
  const tabLogin = $('tab-login');
  const tabRegister = $('tab-register');
  const tabs = $('auth-tabs');
  const panels = ['forgot-form', 'reset-form', 'verify-panel'].map($);

  /** Shows one recovery panel instead of the tabs and their forms. */
  function showPanel(id) {
    tabs.hidden = true;
    loginForm.hidden = true;
    registerForm.hidden = true;
    for (const p of panels) p.hidden = p.id !== id;
    setMessage('');
    const panel = $(id);
    (panel.querySelector('input') || panel.querySelector('h2')).focus?.();
  }

  /** The line under the card: a problem (red, the default) or good news. */
  function setMessage(text, { notice = false } = {}) {
    error.textContent = text;
    error.classList.toggle('notice', notice);
  }

  function select(register) {
    tabs.hidden = false;
    for (const p of panels) p.hidden = true;
    tabLogin.setAttribute('aria-selected', String(!register));
    tabRegister.setAttribute('aria-selected', String(register));
    tabLogin.tabIndex = register ? -1 : 0;
    tabRegister.tabIndex = register ? 0 : -1;
    loginForm.hidden = register;
    registerForm.hidden = !register;
    setMessage('');
    showFieldErrors({});
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

  const FIELDS = ['username', 'email', 'password'];

  /** Shows one message per field (or clears it); returns how many fields have a problem. */
  function showFieldErrors(problems) {
    let n = 0;
    for (const name of FIELDS) {
      const text = problems[name] || '';
      $(`register-${name}-error`).textContent = text;
      const input = registerForm.elements[name];
      if (text) { input.setAttribute('aria-invalid', 'true'); n += 1; } else input.removeAttribute('aria-invalid');
    }
    return n;
  }

  function checkRegistration(username, email, password) {
    const problems = {};
    const chars = [...username].length;
    if (chars < 3 || chars > 32) problems.username = 'Usernames have 3 to 32 characters.';
    else if (!/^[\p{L}\p{N}_.-]+$/u.test(username)) problems.username = 'Use letters, digits, _ . or - only.';
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.email = 'Enter a valid email address.';
    if (password.length < 8 || password.length > 128) problems.password = 'Passwords have 8 to 128 characters.';
    return problems;
  }

  /** FastAPI's 422 list → one message per field. */
  function serverProblems(e) {
    const problems = {};
    if (e?.status === 422 && Array.isArray(e.detail)) {
      for (const d of e.detail) {
        const field = Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : null;
        if (FIELDS.includes(field)) problems[field] = problems[field] ? `${problems[field]} ${d.msg}` : d.msg;
      }
    } else if (typeof e?.detail === 'string') {
      if (/username/i.test(e.detail)) problems.username = e.detail;
      else if (/email/i.test(e.detail)) problems.email = e.detail;
    }
    return problems;
  }

  registerForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = registerForm.elements;
    const username = f.username.value.trim();
    const email = f.email.value.trim();
    const password = f.password.value;
    const n = showFieldErrors(checkRegistration(username, email, password));
    if (n) {
      error.textContent = n === 1 ? 'Please fix the field marked below.' : `Please fix the ${n} fields marked below.`;
      registerForm.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    busy(registerForm, async () => {
      try {
        await api.register(username, email, password);
      } catch (err) {
        if (showFieldErrors(serverProblems(err))) registerForm.querySelector('[aria-invalid="true"]')?.focus();
        throw err;
      }
      await api.login(username, password);
      registerForm.reset();
      await onSignedIn();
    });
  });

  return {
    show(message = '', { notice = false } = {}) {
      screen.hidden = false;
      select(false);
      setMessage(message, { notice });
    },
    hide() { screen.hidden = true; },
    showPanel(id) { screen.hidden = false; showPanel(id); },
    setMessage,
  };
}
