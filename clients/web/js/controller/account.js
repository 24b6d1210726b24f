// The account beyond the profile: the address and its confirmation, sessions,
// deleting the account and exporting its data (issue 17). Each returns what the
// page should say, so the views hold no wording about the server's answers.

export function createAccount(core, { signOut }) {
  const { api, store, state } = core;

  /** Asks to move to `email`; it replaces the current one only once confirmed (a link to it). */
  async function changeEmail(email, password) {
    const r = await api.changeEmail(email, password);
    const pending = r?.pending_email || email;
    store.setMe({ ...state.me, pending_email: pending });
    return `Confirmation sent to ${pending}. Your address changes once you open the link in it.`;
  }

  async function resendVerification() {
    const r = await api.resendVerification();
    return r?.message || `A verification link is on its way to ${state.me?.email || 'your address'}`;
  }

  /** After an emailed link confirmed the address (in this tab or another): the banner goes. */
  async function reloadMe() {
    store.setMe(await api.me());
  }

  /** Deletes the account; the page then shows the sign-in screen with `message`. */
  async function deleteAccount(password) {
    await api.deleteAccount(password);
    await signOut({ expired: true, message: 'Your account was deleted.' });
  }

  async function exportData() {
    await api.exportData();
    return 'We will email you a download link.';
  }

  const sessions = () => api.sessions();
  const revokeSession = (sid) => api.revokeSession(sid);

  async function revokeOtherSessions() {
    const r = await api.revokeOtherSessions();
    const n = r?.revoked ?? 0;
    return n === 1 ? 'Signed out 1 other session.' : `Signed out ${n} other sessions.`;
  }

  return { changeEmail, resendVerification, reloadMe, deleteAccount, exportData, sessions, revokeSession, revokeOtherSessions };
}
