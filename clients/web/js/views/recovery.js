// Password reset and address confirmation on the sign-in card (issue 17):
// "Forgot password?" asks for a link; the emailed links (`/?reset=<token>`,
// `/?verify=<token>`, see router.emailLinkOf) open the reset form or confirm the
// address. The token stays in memory only: main.js removes it from the URL at once.

import { $, errorText } from '../util.js';

export function mountRecovery({ api, auth, onContinue }) {
  const forgot = $('forgot-form');
  const reset = $('reset-form');
  const forgotStatus = $('forgot-status');
  const verifyPanel = $('verify-panel');
  const verifyStatus = $('verify-status');
  let resetToken = null;

  // "Back": to the app when this browser is signed in (a link opened from the inbox), else to sign-in.
  for (const back of document.querySelectorAll('#auth-screen [data-back]')) {
    back.addEventListener('click', () => onContinue());
  }

  async function busy(form, fn) {
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    auth.setMessage('');
    try {
      await fn();
    } catch (e) {
      auth.setMessage(e?.status === 429 ? 'Too many requests. Wait a while and try again.' : errorText(e));
    } finally {
      button.disabled = false;
    }
  }

  function showForgot() {
    forgotStatus.textContent = '';
    const typed = $('login-form').elements.username.value.trim();
    auth.showPanel('forgot-form');
    if (typed.includes('@') && !forgot.elements.email.value) forgot.elements.email.value = typed;
  }
  $('forgot-link').addEventListener('click', showForgot);

  forgot.addEventListener('submit', (e) => {
    e.preventDefault();
    const email = forgot.elements.email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { auth.setMessage('Enter a valid email address.'); return; }
    busy(forgot, async () => {
      forgotStatus.textContent = '';
      const r = await api.forgotPassword(email);
      // The same answer whether or not an account has this address.
      forgotStatus.textContent = `${r?.message || 'If an account uses this address, a reset link is on its way'}. Check your inbox.`;
    });
  });

  reset.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = reset.elements;
    const password = f.password.value;
    if (password.length < 8 || password.length > 128) { auth.setMessage('Passwords have 8 to 128 characters.'); return; }
    if (password !== f.repeat.value) { auth.setMessage('The two passwords differ.'); return; }
    busy(reset, async () => {
      try {
        await api.resetPassword(resetToken, password);
      } catch (err) {
        if (err?.status !== 400) throw err;
        showForgot();
        auth.setMessage('This link has expired or was already used. Ask for a new one here.');
        return;
      }
      resetToken = null;
      reset.reset();
      api.clearTokens(); // the reset ended every session, this browser's too
      auth.show('Your password is changed. Sign in with the new one.', { notice: true });
    });
  });

  async function verify(token) {
    auth.showPanel('verify-panel');
    verifyPanel.dataset.state = 'working';
    verifyStatus.textContent = 'Confirming your address…';
    try {
      await api.verifyEmail(token);
      verifyPanel.dataset.state = 'done';
      verifyStatus.textContent = 'Thank you: your email address is confirmed.';
    } catch (e) {
      verifyPanel.dataset.state = 'failed';
      verifyStatus.textContent = e?.status === 400
        ? 'This link has expired or was already used. Sign in and send a new one from the banner.'
        : `Could not confirm your address: ${errorText(e)}`;
    }
    $('verify-continue').focus();
  }
  $('verify-continue').addEventListener('click', () => onContinue());

  return {
    /** Opens what an emailed link asks for: {kind: 'reset' | 'verify', token}. */
    open(link) {
      if (link.kind === 'reset') {
        resetToken = link.token;
        auth.showPanel('reset-form');
      } else {
        verify(link.token);
      }
    },
  };
}
