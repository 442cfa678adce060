/* global TextEncoder, URLSearchParams, document, location, window -- a browser module */
import { api, saveSession, session, showError } from './session.js';

const errorBox = document.querySelector('#login-error');
const PAGES = { owner: 'owner.html', partner: 'partner.html', operator: 'operator.html' };

function select(role) {
  for (const tab of document.querySelectorAll('[data-role]')) tab.setAttribute('aria-selected', String(tab.dataset.role === role));
  for (const panel of document.querySelectorAll('[data-panel]')) panel.hidden = panel.dataset.panel !== role;
}
for (const tab of document.querySelectorAll('[data-role]')) tab.addEventListener('click', () => select(tab.dataset.role));
const wanted = new URLSearchParams(location.search).get('next');
if (wanted && PAGES[wanted]) select(wanted);

const existing = session();
if (existing && !wanted) location.assign(PAGES[existing.role]);

function done(answer) {
  saveSession(answer);
  location.assign(PAGES[answer.role]);
}

async function run(action) {
  showError(errorBox, null);
  try {
    await action();
  } catch (error) {
    showError(errorBox, error);
  }
}

// Partners and operators: the key is exchanged for a short-lived token at once and not kept.
for (const role of ['partner', 'operator']) {
  document.querySelector(`#${role}-form`).addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.querySelector(`#${role}-key`);
    void run(async () => {
      const answer = await api('/v1/auth/token', { method: 'POST', token: input.value.trim() });
      input.value = '';
      if (answer.role !== role) throw new Error(`that is ${answer.role === 'operator' ? 'an operator' : 'a partner'} key`);
      done(answer);
    });
  });
}

// Owners: a challenge for the address, signed by the wallet, exchanged for a token.
let pending = null;
const address = () => {
  const a = document.querySelector('#owner-address').value.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new Error('enter the payout address (0x and 40 hex digits)');
  return a;
};
const challengeFor = async (a) => (pending = await api('/v1/auth/owner/challenge', { method: 'POST', json: { address: a } }));
const redeem = async (signature) => done(await api('/v1/auth/owner/token', { method: 'POST', json: { challenge: pending.challenge, signature } }));
const hexOf = (text) => `0x${[...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;

document.querySelector('#owner-wallet').addEventListener('click', () =>
  run(async () => {
    const wallet = window.ethereum;
    if (!wallet) throw new Error('no browser wallet found: sign the message elsewhere (below)');
    const [account] = await wallet.request({ method: 'eth_requestAccounts' });
    const input = document.querySelector('#owner-address');
    if (!input.value.trim()) input.value = account;
    const a = address();
    const { message } = await challengeFor(a);
    await redeem(await wallet.request({ method: 'personal_sign', params: [hexOf(message), a] }));
  }),
);
document.querySelector('#owner-challenge').addEventListener('click', () =>
  run(async () => {
    document.querySelector('#owner-message').value = (await challengeFor(address())).message;
  }),
);
document.querySelector('#owner-submit-signature').addEventListener('click', () =>
  run(async () => {
    if (!pending) throw new Error('get the message first');
    await redeem(document.querySelector('#owner-signature').value.trim());
  }),
);
document.querySelector('#owner-dev-sign').addEventListener('click', () =>
  run(async () => {
    const { Wallet } = await import('./vendor/ethers.min.js');
    const keyInput = document.querySelector('#owner-dev-key');
    const wallet = new Wallet(keyInput.value.trim());
    keyInput.value = '';
    document.querySelector('#owner-address').value = wallet.address;
    const { message } = await challengeFor(wallet.address);
    await redeem(await wallet.signMessage(message));
  }),
);
