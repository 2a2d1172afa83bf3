// Collections: the list (with identity and face counts and the model), create, delete.

import { api, path, session } from '../api.js';
import { confirmDialog, errorSlot, field, formatTime, h, section } from '../dom.js';

function collectionRow(c, onDeleted) {
  const open = () => {
    location.hash = `#/collections/${c.id}`;
  };
  const error = errorSlot();
  const remove = session.can('admin')
    ? h(
        'button',
        {
          type: 'button',
          class: 'danger small',
          'aria-label': `Delete collection ${c.name}`,
          onclick: async (ev) => {
            ev.stopPropagation();
            const sure = await confirmDialog(
              `Delete collection “${c.name}” with its ${c.identity_count} identities and ${c.face_count} faces? This cannot be undone.`,
            );
            if (!sure) return;
            try {
              await api('DELETE', path`/v1/collections/${c.id}`);
              onDeleted();
            } catch (err) {
              error.show(err);
            }
          },
        },
        'Delete',
      )
    : null;
  return h(
    'li',
    { class: 'row clickable', testid: 'collection-row', onclick: open },
    h(
      'div',
      { class: 'grow' },
      h('a', { href: `#/collections/${c.id}`, class: 'name' }, c.name),
      h('div', { class: 'muted small' }, `model ${c.model_id} · created ${formatTime(c.created_at)}`),
      error,
    ),
    h('div', { class: 'counts' }, h('span', null, h('b', null, c.identity_count), ' identities'), h('span', null, h('b', null, c.face_count), ' faces')),
    remove,
  );
}

export async function collectionsView() {
  const list = h('ul', { class: 'rows', 'aria-label': 'Collections' });
  const summary = h('p', { class: 'muted' });

  async function refresh() {
    const page = await api('GET', '/v1/collections', { query: { limit: 500 } });
    list.replaceChildren(...page.items.map((c) => collectionRow(c, refresh)));
    if (!page.items.length) {
      list.append(
        h(
          'li',
          { class: 'empty' },
          session.can('admin') && session.unscoped
            ? 'No collections yet. Create one above, then add the people to recognise.'
            : 'No collection is visible to this key. Ask an admin for a key to one.',
        ),
      );
    }
    summary.textContent =
      page.total > page.items.length ? `Showing ${page.items.length} of ${page.total}.` : `${page.total} collection${page.total === 1 ? '' : 's'}.`;
  }

  let createForm = null;
  if (session.can('admin') && session.unscoped) {
    const name = h('input', { type: 'text', testid: 'collection-name-input', required: true, maxlength: 200, autocomplete: 'off' });
    const error = errorSlot();
    createForm = h(
      'form',
      { class: 'inline' },
      field('New collection name', name),
      h('button', { type: 'submit', class: 'primary', testid: 'collection-create' }, 'Create collection'),
      error,
    );
    createForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.show(null);
      try {
        await api('POST', '/v1/collections', { json: { name: name.value.trim() } });
        name.value = '';
        await refresh();
      } catch (err) {
        error.show(err);
        name.focus();
      }
    });
  }
  await refresh();
  return h(
    'div',
    { class: 'stack' },
    h('h1', null, 'Collections'),
    section('Your collections', createForm, summary, list),
  );
}
