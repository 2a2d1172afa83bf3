// One identity: rename, delete, its enrolled faces (metadata only: photos are never stored), and
// enroll by dropping photos, each showing its own result as it completes.

import { api, path, photoForm, session } from '../api.js';
import { confirmDialog, errorSlot, field, formatTime, h, section, dropZone } from '../dom.js';
import { Photo, photoDrop } from '../overlay.js';
import { verdict } from './verify.js';

// Two uploads at a time: the service runs two inference workers by default, so more would queue.
const PARALLEL = 2;

function qualityText(q) {
  return `detection ${q.detection_score.toFixed(3)} · eyes ${q.interocular_px.toFixed(0)} px apart · sharpness ${q.sharpness.toFixed(0)} · pose ${q.pose.toFixed(2)} · brightness ${q.brightness.toFixed(0)}`;
}

function facesSection(collectionId, identity, onChanged) {
  const body = h('tbody');
  const status = h('p', { class: 'muted' });
  const error = errorSlot();

  async function refresh() {
    const page = await api('GET', path`/v1/collections/${collectionId}/identities/${identity.id}/faces`, { query: { limit: 500 } });
    body.replaceChildren(
      ...page.items.map((f) =>
        h(
          'tr',
          { testid: 'face-row' },
          h('td', null, String(f.id)),
          h('td', null, `${f.box.width.toFixed(0)}×${f.box.height.toFixed(0)} at (${f.box.x.toFixed(0)}, ${f.box.y.toFixed(0)})`),
          h('td', null, qualityText(f.quality)),
          h('td', null, h('code', { title: f.content_sha256 }, `${f.content_sha256.slice(0, 12)}…`)),
          h('td', null, formatTime(f.created_at)),
          h(
            'td',
            null,
            session.can('enroll')
              ? h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger small',
                    'aria-label': `Delete face ${f.id}`,
                    onclick: async () => {
                      if (!(await confirmDialog(`Delete face ${f.id}? Its template is removed; the person stays.`))) return;
                      try {
                        await api('DELETE', path`/v1/collections/${collectionId}/identities/${identity.id}/faces/${f.id}`);
                        await refresh();
                        onChanged();
                      } catch (err) {
                        error.show(err);
                      }
                    },
                  },
                  'Delete',
                )
              : null,
          ),
        ),
      ),
    );
    status.textContent = page.total
      ? `${page.total} enrolled face${page.total === 1 ? '' : 's'}.`
      : session.can('enroll')
        ? 'No faces yet: drop photos of this person in Enroll.'
        : 'No faces yet.';
  }
  const table = h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, ['id', 'box (px)', 'quality', 'photo SHA-256', 'enrolled', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    ),
  );
  return {
    refresh,
    el: section(
      'Enrolled faces',
      h(
        'p',
        { class: 'note' },
        'No photos are shown here because none are kept: enrolling stores a face template (numbers the model computed) and this metadata, never the photo. The SHA-256 lets you tell which photo a face came from.',
      ),
      status,
      error,
      table,
    ),
  };
}

function rejectionText(r) {
  const issues = r.issues && r.issues.length ? ` [${r.issues.join(', ')}]` : '';
  return `${r.code}${issues}: ${r.reason}`;
}

function enrollSection(collectionId, identity, onEnrolled) {
  const results = h('ol', { class: 'enroll-results', 'aria-live': 'polite' });
  const progress = h('progress', { max: 1, value: 0, hidden: true });
  const progressText = h('span', { class: 'muted' });

  async function enrollOne(file, item) {
    const photo = new Photo(file);
    const text = h('div', { class: 'result-text' }, h('b', null, file.name), ' — enrolling…');
    item.replaceChildren(photo.el, text);
    try {
      const out = await api('POST', path`/v1/collections/${collectionId}/identities/${identity.id}/faces`, {
        form: photoForm({ image: file }),
      });
      if (out.faces.length) {
        const face = out.faces[0];
        photo.box(face.box, { label: 'accepted', kind: 'match' });
        item.className = 'accepted';
        text.replaceChildren(h('b', null, file.name), ' — ', h('span', { class: 'tag ok' }, 'accepted'), h('div', { class: 'small muted' }, `face ${face.id}: ${qualityText(face.quality)}`));
        return;
      }
      const r = out.rejected[0];
      item.className = 'rejected';
      text.replaceChildren(h('b', null, file.name), ' — ', h('span', { class: 'tag bad' }, r.code), h('div', { class: 'small' }, rejectionText(r)));
    } catch (err) {
      const rejected = err.problem && Array.isArray(err.problem.rejected) ? err.problem.rejected[0] : null;
      item.className = 'rejected';
      const code = rejected ? rejected.code : err.code;
      text.replaceChildren(
        h('b', null, file.name),
        ' — ',
        h('span', { class: 'tag bad' }, code),
        h('div', { class: 'small' }, rejected ? rejectionText(rejected) : err.detail),
      );
      if (code === 'multiple_faces' || code === 'low_quality') {
        // Show which faces the service saw, so the reason is visible on the photo.
        try {
          const found = await api('POST', '/v1/detect', { form: photoForm({ image: file }) });
          for (const f of found.faces) photo.box(f.box, { kind: 'unknown' });
        } catch {
          /* the rejection itself is already shown */
        }
      }
    }
  }

  async function enrollAll(files) {
    const items = files.map((f) => {
      const item = h('li', { testid: 'enroll-result' });
      item.append(h('div', { class: 'result-text muted' }, `${f.name} — waiting…`));
      return item;
    });
    results.prepend(...items);
    let done = 0;
    progress.hidden = false;
    progress.max = files.length;
    progress.value = 0;
    progressText.textContent = `0 of ${files.length} done`;
    const queue = files.map((f, i) => [f, items[i]]);
    const worker = async () => {
      while (queue.length) {
        const [file, item] = queue.shift();
        // eslint-disable-next-line no-await-in-loop
        await enrollOne(file, item);
        done += 1;
        progress.value = done;
        progressText.textContent = `${done} of ${files.length} done`;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
    onEnrolled();
  }

  return section(
    'Enroll',
    h('p', { class: 'muted' }, 'Drop photos of this person: one face each, sharp and well lit. Each photo shows what happened to it.'),
    dropZone({ label: 'Photos to enroll', testid: 'enroll-files', multiple: true, onFiles: enrollAll }),
    h('div', { class: 'progress' }, progress, progressText),
    results,
  );
}

function verifySection(collectionId, identity) {
  const out = h('div', { class: 'identify-out stacked small' });
  const error = errorSlot();
  const zone = photoDrop({
    label: 'Photo to check',
    testid: 'verify-identity-files',
    out,
    error,
    busy: 'Comparing…',
    run: async (file, photo) => {
      const found = await api('POST', path`/v1/collections/${collectionId}/identities/${identity.id}/verify`, {
        form: photoForm({ image: file }),
      });
      photo.box(found.face_a.box, { kind: found.match ? 'match' : 'unknown' });
      return h('div', { class: 'side', testid: 'verify-identity-result' }, verdict(found));
    },
  });
  return section(
    'Verify against this person',
    h('p', { class: 'muted' }, 'Is the largest face of a photo this person? Compared with each enrolled face; the best counts. Nothing is stored.'),
    zone,
    error,
    out,
  );
}

function editSection(collectionId, identity, onSaved) {
  const ext = h('input', { type: 'text', maxlength: 200, value: identity.external_id || '' });
  const display = h('input', { type: 'text', maxlength: 200, value: identity.display_name || '' });
  const error = errorSlot();
  const form = h(
    'form',
    { class: 'inline' },
    field('External id', ext),
    field('Display name', display),
    h('button', { type: 'submit', class: 'primary' }, 'Save'),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.show(null);
    try {
      await api('PATCH', path`/v1/collections/${collectionId}/identities/${identity.id}`, {
        json: { external_id: ext.value.trim() || null, display_name: display.value.trim() || null },
      });
      onSaved();
    } catch (err) {
      error.show(err);
    }
  });
  const delError = errorSlot();
  const del = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        const name = identity.external_id || identity.display_name || identity.id;
        if (!(await confirmDialog(`Delete identity “${name}” and its ${identity.face_count} faces? This cannot be undone.`))) return;
        try {
          await api('DELETE', path`/v1/collections/${collectionId}/identities/${identity.id}`);
          location.hash = `#/collections/${collectionId}`;
        } catch (err) {
          delError.show(err);
        }
      },
    },
    'Delete identity',
  );
  return section('Rename or delete', form, h('div', { class: 'actions' }, del), delError);
}

export async function identityView(collectionId, identityId) {
  const [collection, identity] = await Promise.all([
    api('GET', path`/v1/collections/${collectionId}`),
    api('GET', path`/v1/collections/${collectionId}/identities/${identityId}`),
  ]);
  const title = h('h1', null, identity.external_id || identity.display_name || 'Identity');
  const subtitle = h('p', { class: 'muted' });
  const describe = (i) => {
    title.textContent = i.external_id || i.display_name || 'Identity';
    subtitle.textContent = `${i.display_name || 'no display name'} · ${i.face_count} face${i.face_count === 1 ? '' : 's'} · id ${i.id}`;
  };
  describe(identity);
  const reload = async () => {
    const fresh = await api('GET', path`/v1/collections/${collectionId}/identities/${identityId}`);
    Object.assign(identity, fresh);
    describe(fresh);
  };
  const faces = facesSection(collectionId, identity, reload);
  await faces.refresh();
  const onEnrolled = () => Promise.all([faces.refresh(), reload()]);
  return h(
    'div',
    { class: 'stack' },
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Collections'),
      ' / ',
      h('a', { href: `#/collections/${collection.id}` }, collection.name),
      ' / ',
    ),
    title,
    subtitle,
    h(
      'div',
      { class: 'columns' },
      session.can('enroll') ? enrollSection(collectionId, identity, onEnrolled) : null,
      h('div', { class: 'stack' }, faces.el, verifySection(collectionId, identity), session.can('enroll') ? editSection(collectionId, identity, reload) : null),
    ),
  );
}
