// Admin: API keys (create with role and collection, the secret shown once, revoke), the audit
// trail (filterable), the model with its calibration plot, and health.

import { api, models, path, session } from '../api.js';
import { confirmDialog, errorSlot, field, formatFar, formatSim, formatTime, h, section } from '../dom.js';
import { farPlot } from '../plot.js';

function secretBox(created) {
  const code = h('code', { class: 'secret', testid: 'new-key-secret' }, created.key);
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  const copy = h(
    'button',
    {
      type: 'button',
      testid: 'new-key-copy',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(created.key);
          copied.textContent = 'Copied.';
        } catch {
          // Clipboard access needs a secure context; selecting lets the operator copy by hand.
          const range = document.createRange();
          range.selectNodeContents(code);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          copied.textContent = 'Selected: press Ctrl+C.';
        }
      },
    },
    'Copy',
  );
  return h(
    'div',
    { class: 'notice', role: 'status' },
    h('p', null, h('b', null, `New ${created.role} key${created.name ? ` “${created.name}”` : ''}.`), ' Copy the secret now: it is shown only once and cannot be recovered.'),
    h('div', { class: 'inline' }, code, copy, copied),
  );
}

async function keysSection(collections) {
  const names = new Map(collections.map((c) => [c.id, c.name]));
  const body = h('tbody');
  const listError = errorSlot();
  const fresh = h('div');

  async function refresh() {
    const page = await api('GET', '/v1/keys', { query: { limit: 500 } });
    body.replaceChildren(
      ...page.items.map((k) =>
        h(
          'tr',
          { testid: 'key-row', class: k.revoked_at ? 'revoked' : '' },
          h('td', null, h('code', null, k.prefix)),
          h('td', null, k.name || '—'),
          h('td', null, k.role),
          h('td', null, k.collection_id ? names.get(k.collection_id) || k.collection_id : 'all collections'),
          h('td', null, formatTime(k.created_at)),
          h('td', null, formatTime(k.last_used_at)),
          h(
            'td',
            null,
            k.revoked_at
              ? `revoked ${formatTime(k.revoked_at)}`
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger small',
                    testid: 'key-revoke',
                    'aria-label': `Revoke key ${k.prefix}`,
                    onclick: async () => {
                      if (!(await confirmDialog(`Revoke key ${k.prefix}${k.name ? ` (“${k.name}”)` : ''}? Clients using it are refused at once.`, 'Revoke'))) return;
                      try {
                        await api('DELETE', path`/v1/keys/${k.id}`);
                        await refresh();
                      } catch (err) {
                        listError.show(err);
                      }
                    },
                  },
                  'Revoke',
                ),
          ),
        ),
      ),
    );
    if (!page.items.length) body.append(h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No keys yet. Create one per client, with the smallest role it needs.')));
  }

  const role = h('select', { testid: 'key-role' }, ['identify', 'enroll', 'admin'].map((r) => h('option', { value: r }, r)));
  const scope = h(
    'select',
    { testid: 'key-collection' },
    session.unscoped ? h('option', { value: '' }, 'all collections') : null,
    collections.map((c) => h('option', { value: c.id }, c.name)),
  );
  const name = h('input', { type: 'text', maxlength: 200, testid: 'key-name', autocomplete: 'off' });
  const error = errorSlot();
  const form = h(
    'form',
    { class: 'inline' },
    field('Role', role, 'identify < enroll < admin'),
    field('Collection', scope),
    field('Name', name, 'Who uses it, e.g. "front door".'),
    h('button', { type: 'submit', class: 'primary', testid: 'key-create' }, 'Create key'),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.show(null);
    try {
      const created = await api('POST', '/v1/keys', {
        json: { role: role.value, collection_id: scope.value || null, name: name.value.trim() || null },
      });
      name.value = '';
      fresh.replaceChildren(secretBox(created));
      await refresh();
    } catch (err) {
      error.show(err);
    }
  });
  await refresh();
  const head = ['prefix', 'name', 'role', 'collection', 'created', 'last used', ''].map((t) => h('th', { scope: 'col' }, t));
  return section('API keys', form, fresh, listError, h('div', { class: 'scroll' }, h('table', null, h('thead', null, h('tr', null, head)), body)));
}

async function actionsFromSpec() {
  // The audit actions are an enum in the OpenAPI document: no second list to keep in sync.
  try {
    const spec = await api('GET', '/openapi.json', { auth: false });
    const param = spec.paths['/v1/audit-events'].get.parameters.find((p) => p.name === 'action');
    const schema = param.schema.anyOf ? param.schema.anyOf.find((s) => s.enum) : param.schema;
    return schema.enum || [];
  } catch {
    return [];
  }
}

async function auditSection(collections) {
  const actions = await actionsFromSpec();
  const action = h('select', null, h('option', { value: '' }, 'any'), actions.map((a) => h('option', { value: a }, a)));
  const collection = h('select', null, h('option', { value: '' }, 'any'), collections.map((c) => h('option', { value: c.id }, c.name)));
  const actor = h('input', { type: 'text', maxlength: 64, autocomplete: 'off' });
  const target = h('input', { type: 'text', maxlength: 64, autocomplete: 'off' });
  const error = errorSlot();
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'small', hidden: true }, 'Older events');
  let before = null;

  async function load(reset) {
    error.show(null);
    if (reset) {
      before = null;
      body.replaceChildren();
    }
    try {
      const page = await api('GET', '/v1/audit-events', {
        query: {
          limit: 50,
          before_id: before,
          action: action.value,
          collection_id: collection.value,
          key_id: actor.value.trim(),
          target_id: target.value.trim(),
        },
      });
      body.append(
        ...page.items.map((e) =>
          h(
            'tr',
            null,
            h('td', { class: 'nowrap' }, formatTime(e.created_at)),
            h('td', { class: 'nowrap' }, e.key_id || '—'),
            h('td', null, e.action),
            h('td', null, e.collection_id ? collections.find((c) => c.id === e.collection_id)?.name || e.collection_id : '—'),
            h('td', null, e.target_type ? `${e.target_type} ${e.target_id || ''}` : '—'),
            h('td', null, h('code', { class: 'small' }, e.details ? JSON.stringify(e.details) : '')),
          ),
        ),
      );
      if (!body.children.length) body.append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No events match these filters.')));
      before = page.next_before_id;
      more.hidden = before == null;
    } catch (err) {
      error.show(err);
    }
  }
  more.addEventListener('click', () => load(false));
  const form = h(
    'form',
    { class: 'inline' },
    field('Action', action),
    field('Collection', collection),
    field('Key id', actor, '"admin" or a key id'),
    field('Target id', target),
    h('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load(true);
  });
  await load(true);
  const head = ['when', 'key', 'action', 'collection', 'target', 'details'].map((t) => h('th', { scope: 'col' }, t));
  return section('Audit events', form, error, h('div', { class: 'scroll' }, h('table', { class: 'compact' }, h('thead', null, h('tr', null, head)), body)), more);
}

async function modelsSection() {
  const { models: list } = await models();
  return section(
    'Models and thresholds',
    list.map((m) =>
      h(
        'div',
        { class: 'model' },
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'model'),
          h('dd', null, h('code', null, m.model_id)),
          h('dt', null, 'template size'),
          h('dd', null, `${m.embedding_dim} numbers`),
          h('dt', null, 'threshold in force'),
          h('dd', null, `${formatSim(m.threshold)} (estimated FAR ${formatFar(m.estimated_far)})`),
          h('dt', null, 'calibrated default'),
          h('dd', null, formatSim(m.default_threshold)),
          h('dt', null, 'measured on'),
          h('dd', null, `${m.calibration.impostor_pairs.toLocaleString()} different-person pairs`),
        ),
        farPlot(m.calibration, m.threshold, m.estimated_far),
        h('p', { class: 'muted small' }, 'FAR: the share of pairs of different people whose similarity reaches that value. A higher threshold accepts fewer impostors and rejects more genuine photos.'),
      ),
    ),
  );
}

async function probe(url) {
  try {
    const res = await fetch(url, { cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    return { ok: res.ok, status: res.status, body };
  } catch (err) {
    return { ok: false, status: 0, body: { detail: err.message } };
  }
}

async function healthSection() {
  const [live, ready] = await Promise.all([probe('/healthz'), probe('/readyz')]);
  const row = (name, r) =>
    h(
      'li',
      { class: 'row' },
      h('span', { class: `tag ${r.ok ? 'ok' : 'bad'}` }, r.ok ? 'ok' : `HTTP ${r.status}`),
      h('span', { class: 'grow' }, name, ': ', r.ok ? JSON.stringify(r.body.checks || r.body.status) : `${r.body.code || ''} ${r.body.detail || ''}`),
    );
  return section('Health', h('ul', { class: 'rows' }, row('live (/healthz)', live), row('ready (/readyz)', ready)));
}

export async function adminView() {
  if (!session.can('admin')) {
    return h('section', { class: 'card' }, h('h1', null, 'Admin'), h('p', null, 'This key is not an admin key: keys, audit events and models need one.'));
  }
  const { items: collections } = await api('GET', '/v1/collections', { query: { limit: 500 } });
  const parts = await Promise.all([keysSection(collections), modelsSection(), healthSection(), auditSection(collections)]);
  return h('div', { class: 'stack' }, h('h1', null, 'Admin'), h('div', { class: 'columns admin' }, parts));
}
