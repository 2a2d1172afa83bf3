"""Re-encode every stored template under the current key: rotate, switch encryption on, or off.

Rows are walked in id order in small batches, each batch its own transaction, so a rotation can run
beside a live service and be interrupted and re-run at any point: a row already under the active key
is left alone. An update only lands if the row still holds the bytes that were read, so a face
deleted or rewritten meanwhile is never resurrected or clobbered. The FAISS index holds decoded
vectors, which a rotation does not change, so it needs no rebuild.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import release_connection
from app.db.template_codec import TemplateKeyring, key_id_of, reseal
from app.services import audit

PLAIN = "(plain)"


@dataclass(slots=True)
class RotationReport:
    scanned: int = 0
    rewritten: int = 0
    skipped_changed: int = 0  # deleted or rewritten by someone else between read and update
    before: Counter[str] = field(default_factory=Counter)  # key id (or PLAIN) → rows, as found
    target: str = PLAIN


def _batches(session: Session, batch_size: int) -> Iterator[list[tuple[int, bytes, str]]]:
    """(id, template, model_id) rows in id order; the caller ends each batch's transaction."""
    last_id = 0
    while rows := repo.stored_templates_after(session, after_id=last_id, limit=batch_size):
        last_id = rows[-1][0]
        yield rows


def count_by_key(engine: Engine, *, batch_size: int = 1000) -> Counter[str]:
    """How many templates each key id seals (PLAIN for unencrypted ones)."""
    counts: Counter[str] = Counter()
    with Session(engine) as session:
        for rows in _batches(session, batch_size):
            counts.update(key_id_of(blob) or PLAIN for _, blob, _ in rows)
            release_connection(session)
    return counts


def rotate_templates(
    engine: Engine,
    *,
    keyring: TemplateKeyring,
    actor: str = "cli",
    batch_size: int = 500,
    dry_run: bool = False,
) -> RotationReport:
    """Rewrite every template not yet under `keyring`'s active key (plain when it has none)."""
    report = RotationReport(target=keyring.active_id or PLAIN)
    with Session(engine) as session:
        for rows in _batches(session, batch_size):
            for face_id, blob, model_id in rows:
                report.scanned += 1
                report.before[key_id_of(blob) or PLAIN] += 1
                new = reseal(blob, model_id=model_id, keyring=keyring)
                if new is None or dry_run:
                    continue
                if repo.replace_stored_template(session, face_id=face_id, expected=blob, new=new):
                    report.rewritten += 1
                else:
                    report.skipped_changed += 1
            if dry_run:
                session.rollback()
            else:
                session.commit()
        if not dry_run:
            audit.record(
                session,
                actor=actor,
                action=audit.TEMPLATES_ROTATE_KEY,
                target_type="templates",
                details={
                    "target_key_id": report.target,
                    "scanned": report.scanned,
                    "rewritten": report.rewritten,
                    "skipped_changed": report.skipped_changed,
                    "key_ids_before": sorted(report.before),
                },
            )
            session.commit()
    return report
