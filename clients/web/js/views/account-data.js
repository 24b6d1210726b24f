// Account page: export my data (an email with a download link follows) and delete
// the account, confirmed in a dialog with the password; then the sign-in screen.

import { $, errorText } from '../util.js';

export function mountAccountData({ controller, say, closeAccount }) {
  const dialog = $('delete-account-dialog');
  const form = $('delete-account-form');
  const error = $('delete-account-error');
  const exportButton = $('export-button');

  exportButton.addEventListener('click', async () => {
    if (exportButton.getAttribute('aria-disabled') === 'true') return;
    exportButton.setAttribute('aria-disabled', 'true');
    try {
      say(await controller.exportData());
    } catch (e) {
      say(errorText(e), { error: true });
    } finally {
      exportButton.removeAttribute('aria-disabled');
    }
  });

  $('delete-account-button').addEventListener('click', () => {
    form.reset();
    error.textContent = '';
    dialog.showModal();
    form.elements.password.focus();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const password = form.elements.password.value;
    if (!password) { error.textContent = 'Enter your password to delete the account.'; return; }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    error.textContent = '';
    try {
      await controller.deleteAccount(password);
      dialog.close();
      closeAccount();
    } catch (err) {
      error.textContent = errorText(err);
      form.elements.password.select();
    } finally {
      button.disabled = false;
    }
  });
}
