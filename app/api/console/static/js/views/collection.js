// One collection: its identities (paged, searchable by external id, create) and identify, which
// draws a box and a label on every face of the photo.

import { api, farAt, models, path, photoForm, session } from '../api.js';
import { errorSlot, field, formatFar, formatSim, h, section } from '../dom.js';
import { photoDrop } from '../overlay.js';

const PAGE = 20;

function identityName(candidate) {
  if (candidate.display_name && candidate.external_id) return `${candidate.external_id} (${candidate.display_name})`;
  return candidate.external_id || candidate.display_name || candidate.identity_id.slice(0, 8);
}

function identitiesSection(collection) {
  let offset = 0;
  let search = '';
  const list = h('ul', { class: 'rows', 'aria-label': 'Identities' });
  const status = h('span', { class: 'muted' });
  const prev = h('button', { type: 'button', class: 'small' }, '← Previous');
  const next = h('button', { type: 'button', class: 'small' }, 'Next →');
  const listError = errorSlot();

  async function refresh() {
    listError.show(null);
    let page;
    try {
      page = await api('GET', path`/v1/collections/${collection.id}/identities`, {
        query: { limit: PAGE, offset, external_id: search || undefined },
      });
    } catch (err) {
      listError.show(err);
      return;
    }
    list.replaceChildren(
      ...page.items.map((i) =>
        h(
          'li',
          {
            class: 'row clickable',
            testid: 'identity-row',
            onclick: () => {
              location.hash = `#/collections/${collection.id}/identities/${i.id}`;
            },
          },
          h(
            'div',
            { class: 'grow' },
            h('a', { href: `#/collections/${collection.id}/identities/${i.id}`, class: 'name' }, i.external_id || '(no external id)'),
            h('div', { class: 'muted small' }, i.display_name || 'no display name'),
          ),
          h('div', { class: 'counts' }, h('span', null, h('b', null, i.face_count), i.face_count === 1 ? ' face' : ' faces')),
        ),
      ),
    );
    if (!page.items.length) {
      list.append(
        h(
          'li',
          { class: 'empty' },
          search
            ? `No identity has the external id “${search}”.`
            : session.can('enroll')
              ? 'No identities yet. Create one above, open it and drop photos of that person.'
              : 'No identities yet. An enroll key can add people.',
        ),
      );
    }
    const last = Math.min(offset + page.items.length, page.total);
    status.textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : '';
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE >= page.total;
  }
  prev.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE);
    refresh();
  });
  next.addEventListener('click', () => {
    offset += PAGE;
    refresh();
  });

  const searchInput = h('input', { type: 'search', autocomplete: 'off', maxlength: 200 });
  const searchForm = h('form', { class: 'inline', role: 'search' }, field('Find by external id', searchInput, 'Exact match.'), h('button', { type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search = searchInput.value.trim();
    offset = 0;
    refresh();
  });

  let createForm = null;
  if (session.can('enroll')) {
    const ext = h('input', { type: 'text', testid: 'identity-external-id-input', maxlength: 200, autocomplete: 'off' });
    const display = h('input', { type: 'text', testid: 'identity-display-name-input', maxlength: 200, autocomplete: 'off' });
    const error = errorSlot();
    createForm = h(
      'form',
      { class: 'inline' },
      field('External id', ext, 'Your id for this person, e.g. an employee number.'),
      field('Display name', display),
      h('button', { type: 'submit', class: 'primary', testid: 'identity-create' }, 'Create identity'),
      error,
    );
    createForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.show(null);
      const body = {};
      if (ext.value.trim()) body.external_id = ext.value.trim();
      if (display.value.trim()) body.display_name = display.value.trim();
      try {
        await api('POST', path`/v1/collections/${collection.id}/identities`, { json: body });
        ext.value = '';
        display.value = '';
        search = '';
        searchInput.value = '';
        await refresh();
      } catch (err) {
        error.show(err);
      }
    });
  }
  refresh();
  return section(
    'Identities',
    createForm,
    searchForm,
    listError,
    list,
    h('div', { class: 'pager' }, prev, status, next),
  );
}

function identifySection(collection) {
  const results = h('div', { class: 'identify-out stacked' });
  const error = errorSlot();
  const slider = h('input', { type: 'range', min: '0.80', max: '1', step: '0.0005', value: '0.9' });
  const sliderText = h('output', { for: 'threshold' });
  slider.id = 'threshold';
  let current = null; // {photo, faces}
  let calibration = null;

  models()
    .then((m) => {
      const model = m.models[0];
      calibration = model.calibration;
      slider.value = String(model.threshold);
      slider.dataset.default = String(model.threshold);
      describeThreshold();
    })
    .catch(() => {});

  function describeThreshold() {
    const t = Number(slider.value);
    const far = calibration ? farAt(calibration, t) : null;
    sliderText.textContent = `${formatSim(t)}${far != null ? ` (estimated FAR ${formatFar(far)})` : ''}`;
  }

  function draw() {
    if (!current) return;
    const t = Number(slider.value);
    const { photo, faces } = current;
    photo.clear();
    const side = h('ol', { class: 'faces grid' });
    faces.forEach((face, n) => {
      const best = face.candidates[0];
      const match = best && best.similarity >= t ? best : null;
      const label = match
        ? `${match.display_name || match.external_id || 'match'} ${match.similarity.toFixed(3)} · FAR ${formatFar(match.estimated_far)}`
        : 'unknown';
      photo.box(face.box, { label: `${n + 1}. ${label}`, kind: match ? 'match' : 'unknown' });
      side.append(
        h(
          'li',
          { class: match ? 'match' : 'unknown' },
          // The verdict alone carries the test hook: the candidate table below names people
          // who did not reach the threshold.
          h('div', { class: 'verdict', testid: 'identify-result' }, `Face ${n + 1}: `, h('b', null, match ? identityName(match) : 'unknown')),
          face.candidates.length
            ? h(
                'table',
                { class: 'compact' },
                h('thead', null, h('tr', null, h('th', null, 'candidate'), h('th', null, 'similarity'), h('th', null, 'est. FAR'))),
                h(
                  'tbody',
                  null,
                  face.candidates.map((c) =>
                    h(
                      'tr',
                      { class: c.similarity >= t ? 'above' : 'below' },
                      h('td', null, h('a', { href: `#/collections/${collection.id}/identities/${c.identity_id}` }, identityName(c))),
                      h('td', null, formatSim(c.similarity)),
                      h('td', null, formatFar(c.estimated_far)),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted small' }, 'No candidates: the collection has no faces yet.'),
        ),
      );
    });
    if (!faces.length) side.append(h('li', { class: 'empty' }, 'No face found in this photo.'));
    const panel = h('div', { class: 'side' }, h('h3', null, `${faces.length} face${faces.length === 1 ? '' : 's'}`), side);
    results.replaceChildren(photo.el, panel);
    return panel;
  }

  slider.addEventListener('input', () => {
    describeThreshold();
    draw(); // re-label from the candidates already returned: no new request
  });

  const zone = photoDrop({
    label: 'Photo to identify',
    testid: 'identify-files',
    out: results,
    error,
    busy: 'Identifying…',
    run: async (file, photo) => {
      const found = await api('POST', path`/v1/collections/${collection.id}/identify`, {
        form: photoForm({ image: file }),
        query: { top_k: 5 },
      });
      current = { photo, faces: found.faces };
      return draw();
    },
    failed: () => {
      current = null;
    },
  });
  return section(
    'Identify',
    h('p', { class: 'muted' }, 'Who is in a photo? Every face gets a box: the best match at the threshold, or unknown. Moving the threshold re-labels at once from the candidates returned.'),
    zone,
    error,
    h('div', { class: 'field' }, h('label', { for: 'threshold' }, 'Match threshold (cosine similarity)'), h('div', { class: 'slider' }, slider, sliderText)),
    results,
  );
}

export async function collectionView(collectionId) {
  const collection = await api('GET', path`/v1/collections/${collectionId}`);
  return h(
    'div',
    { class: 'stack' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Collections'), ' / '),
    h('h1', null, collection.name),
    h('p', { class: 'muted' }, `${collection.identity_count} identities · ${collection.face_count} faces · model ${collection.model_id}`),
    h('div', { class: 'columns collection' }, identitiesSection(collection), identifySection(collection)),
  );
}
