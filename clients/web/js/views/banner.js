// The banner that asks to confirm the email address (`email_verified: false` in
// /auth/me), with "Send the link again". The link may be opened in another tab,
// so the account is read again when this tab comes back to the front.

import { $, errorText } from '../util.js';

export function mountVerifyBanner({ store, controller, toast }) {
  const { state } = store;
  const banner = $('verify-banner');
  const text = $('verify-banner-text');
  const resend = $('verify-resend');

  function render() {
    const me = state.me;
    banner.hidden = !(me && me.email_verified === false);
    if (!banner.hidden) text.textContent = `Please confirm your email address ${me.email}: open the link we sent there.`;
  }

  resend.addEventListener('click', async () => {
    if (resend.getAttribute('aria-disabled') === 'true') return;
    resend.setAttribute('aria-disabled', 'true'); // not `disabled`: that would drop the focus
    try {
      toast(await controller.resendVerification());
    } catch (e) {
      toast(e?.status === 429 ? 'Too many links asked for. Try again in an hour.' : errorText(e), { error: true });
    } finally {
      resend.removeAttribute('aria-disabled');
    }
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && !banner.hidden) controller.reloadMe().catch(() => {});
  });

  store.on('me', render);
  return { render };
}
