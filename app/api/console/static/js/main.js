// The console's shell: sign-in, navigation by URL fragment, and the way back to sign-in when
// the service refuses the key (401/403).

import { api, forgetModels, onAuthFailure, session } from './api.js';
import { clear, describeError, errorSlot, field, h } from './dom.js';
import { adminView } from './views/admin.js';
import { collectionView } from './views/collection.js';
import { collectionsView } from './views/collections.js';
import { detectView } from './views/detect.js';
import { identityView } from './views/identity.js';
import { verifyView } from './views/verify.js';

const UUID = '([0-9a-fA-F-]{36})';
const ROUTES = [
  [new RegExp('^#?/?$'), collectionsView, 'collections'],
  [new RegExp(`^#/collections/${UUID}$`), collectionView, 'collections'],
  [new RegExp(`^#/collections/${UUID}/identities/${UUID}$`), identityView, 'collections'],
  [new RegExp('^#/verify$'), verifyView, 'verify'],
  [new RegExp('^#/detect$'), detectView, 'detect'],
  [new RegExp('^#/admin$'), adminView, 'admin'],
];

const main = document.getElementById('view');
let generation = 0;
let signInReason = null;

function describeScope(me) {
  const where = me.collection_id ? `collection ${me.collection_id.slice(0, 8)}…` : 'all collections';
  const who = me.key_id ? `key ${me.key_id.slice(0, 8)}…` : 'admin key';
  return `${who} · ${me.role} · ${where}`;
}

function showChrome(signedIn) {
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('whoami').hidden = !signedIn;
  if (!signedIn) return;
  document.getElementById('whoami-text').textContent = describeScope(session.me);
  for (const link of document.querySelectorAll('[data-role]')) {
    link.hidden = !session.can(link.dataset.role);
  }
}

function signOut(reason) {
  session.key = null;
  session.me = null;
  forgetModels();
  signInReason = reason || null;
  showChrome(false);
  render();
}

onAuthFailure((err) => {
  const why =
    err.status === 401
      ? `Signed out: ${err.detail}.`
      : `This key may not do that: ${err.detail}. Sign in with a key that may.`;
  signOut(why);
});

function signInView() {
  const input = h('input', {
    type: 'password',
    testid: 'api-key-input',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const error = errorSlot();
  if (signInReason) error.show(signInReason);
  const button = h('button', { type: 'submit', testid: 'api-key-submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h(
      'p',
      null,
      'Paste an API key: the admin key from the server (data/admin_api_key on first start), or a ',
      'scoped key an admin created. It stays in this tab only and is sent as the X-API-Key header.',
    ),
    field('API key', input),
    error,
    h('div', { class: 'actions' }, button),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    try {
      session.me = await api('GET', '/v1/keys/me', { key });
      session.key = key;
      signInReason = null;
      showChrome(true);
      render();
    } catch (err) {
      error.show(err.status === 401 ? `${err.detail}.` : describeError(err));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return form;
}

async function render() {
  const mine = ++generation;
  if (!session.key) {
    clear(main, signInView());
    document.title = 'Sign in · facematch console';
    return;
  }
  if (!session.me) {
    try {
      session.me = await api('GET', '/v1/keys/me');
    } catch (err) {
      if (err.status !== 401 && err.status !== 403) clear(main, h('p', { class: 'error' }, describeError(err)));
      return;
    }
    showChrome(true);
  }
  const hash = location.hash || '#/';
  const route = ROUTES.find(([re]) => re.test(hash));
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.toggleAttribute('aria-current', route != null && link.dataset.nav === route[2]);
    if (route && link.dataset.nav === route[2]) link.setAttribute('aria-current', 'page');
  }
  if (!route) {
    clear(main, h('section', { class: 'card' }, h('h1', null, 'Not found'), h('p', null, 'No such page. ', h('a', { href: '#/' }, 'Back to collections'))));
    return;
  }
  const [re, view] = route;
  const params = hash.match(re).slice(1);
  clear(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const el = await view(...params);
    if (mine !== generation) return; // the operator went elsewhere meanwhile
    clear(main, el);
    const heading = main.querySelector('h1');
    document.title = `${heading ? heading.textContent : 'console'} · facematch`;
  } catch (err) {
    if (mine !== generation || err.status === 401 || err.status === 403) return;
    clear(main, h('section', { class: 'card' }, h('h1', null, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, describeError(err)), h('p', null, h('a', { href: '#/' }, 'Back to collections'))));
  }
}

document.getElementById('sign-out').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', render);
render();
