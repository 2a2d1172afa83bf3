// Verify (1:1): two photos side by side, their similarity, the estimated FAR, and whether they
// match at the threshold in force.

import { api, photoForm } from '../api.js';
import { dropZone, errorSlot, formatFar, formatSim, h, section } from '../dom.js';
import { Photo } from '../overlay.js';

/** What a verify answer says, in words: shared by this screen and an identity's page. */
export function verdict(out) {
  return [
    h('div', { class: `big ${out.match ? 'ok' : 'bad'}` }, out.match ? 'Same person' : 'Not a match'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'similarity'),
      h('dd', null, formatSim(out.similarity)),
      h('dt', null, 'estimated FAR'),
      h('dd', null, `${formatFar(out.estimated_far)} (share of different-person pairs scoring this high)`),
      h('dt', null, 'threshold'),
      h('dd', null, formatSim(out.threshold)),
    ),
  ];
}

export async function verifyView() {
  const chosen = { image_a: null, image_b: null };
  const frames = { image_a: h('div', { class: 'slot' }), image_b: h('div', { class: 'slot' }) };
  const photos = {};
  const outcome = h('div', { class: 'verdict-box', 'aria-live': 'polite', testid: 'verify-result' });
  const error = errorSlot();

  async function compare() {
    if (!chosen.image_a || !chosen.image_b) {
      outcome.textContent = chosen.image_a || chosen.image_b ? 'Now the other photo.' : '';
      return;
    }
    outcome.textContent = 'Comparing…';
    error.show(null);
    try {
      const out = await api('POST', '/v1/verify', { form: photoForm(chosen) });
      photos.image_a.clear();
      photos.image_b.clear();
      photos.image_a.box(out.face_a.box, { kind: out.match ? 'match' : 'unknown' });
      if (out.face_b) photos.image_b.box(out.face_b.box, { kind: out.match ? 'match' : 'unknown' });
      outcome.replaceChildren(...verdict(out));
    } catch (err) {
      outcome.textContent = '';
      error.show(err);
    }
  }

  const zone = (name, label) =>
    dropZone({
      label,
      testid: `verify-${name === 'image_a' ? 'a' : 'b'}-files`,
      onFiles: ([file]) => {
        chosen[name] = file;
        photos[name] = new Photo(file, { caption: file.name });
        frames[name].replaceChildren(photos[name].el);
        compare();
      },
    });

  return h(
    'div',
    { class: 'stack' },
    h('h1', null, 'Verify'),
    section(
      'Are these the same person?',
      h('p', { class: 'muted' }, 'Drop two photos; the largest face of each is compared. Nothing is stored.'),
      h('div', { class: 'pair' }, h('div', null, zone('image_a', 'First photo'), frames.image_a), h('div', null, zone('image_b', 'Second photo'), frames.image_b)),
      error,
      outcome,
    ),
  );
}
