"""`facematch import`: bulk-enroll a folder of folders (`people/<external_id>/*.jpg`) through the
HTTP API, so it works against any running facematch (local, container, remote).

Resumable: every photo is keyed by (external_id, sha256 of the file's bytes), the same hash the
server stores per face. Finished photos go to a journal (JSON lines) and are skipped on the next
run. For identities that already existed on the server, the importer lists their faces first and
skips, without uploading, every photo whose hash the server reports (`content_sha256`), so a lost
or foreign journal costs one lookup per person, not a re-upload. A photo the server still finds
enrolled (`duplicate_image`, e.g. sent by someone else meanwhile) counts as skipped too.

Register it on the CLI with `cli.command("import")(import_command)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# The server answers this when the same bytes are already enrolled for the identity.
ALREADY_ENROLLED = "duplicate_image"

Status = Literal["enrolled", "skipped", "rejected", "error"]


@dataclass(frozen=True)
class Photo:
    external_id: str
    path: Path


@dataclass
class Outcome:
    external_id: str
    path: str
    sha256: str
    status: Status
    code: str | None = None
    reason: str | None = None
    face_id: int | None = None
    resumed: bool = False  # known from an earlier run's journal; not sent again
    uploaded: bool = True  # False when the server's face list showed it enrolled already

    @property
    def key(self) -> str:
        return f"{self.external_id}/{self.sha256}"


@dataclass
class Summary:
    collection_id: str
    photos: int
    seconds: float
    counts: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Photos that went to the server in this run (the rate is measured on these)."""
        return self.counts["enrolled"] + self.counts["rejected_now"] + self.counts["skipped_now"]

    @property
    def photos_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "enrolled":
            self.counts["enrolled"] += 1
        elif outcome.status == "skipped":
            self.counts["skipped"] += 1
            self.counts["skipped_now"] += 1 if outcome.uploaded and not outcome.resumed else 0
        elif outcome.status == "rejected":
            self.counts["rejected"] += 1
            self.counts["rejected_now"] += 0 if outcome.resumed else 1
            code = outcome.code or "unknown"
            self.rejects[code] += 1
            self.examples.setdefault(code, f"{outcome.path}: {outcome.reason or ''}".strip())
        else:
            self.counts["error"] += 1
            self.errors.append(f"{outcome.path}: {outcome.code}: {outcome.reason}")

    def as_json(self) -> dict[str, Any]:
        return {
            "collection_id": self.collection_id,
            "photos": self.photos,
            "sent": self.sent,
            "seconds": round(self.seconds, 2),
            "photos_per_second": round(self.photos_per_second, 2),
            "enrolled": self.counts["enrolled"],
            "skipped": self.counts["skipped"],
            "rejected": self.counts["rejected"],
            "errors": self.counts["error"],
            "rejects_by_code": dict(self.rejects.most_common()),
            "reject_examples": self.examples,
            "error_messages": self.errors[:50],
        }


def discover(folder: Path) -> list[Photo]:
    """`folder/<external_id>/<photo>`, sorted; hidden entries and non-images are ignored."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    photos = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(person.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(Photo(person.name, path))
    return photos


def default_journal(base_url: str, collection: str, folder: Path) -> Path:
    """One journal per (server, collection, folder), under the user's cache directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha256(f"{base_url}|{collection}|{folder.resolve()}".encode()).hexdigest()[:16]
    return cache / "facematch" / "imports" / f"{tag}.jsonl"


class Journal:
    """Append-only JSON lines of finished photos; the last line for a key wins."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Outcome]:
        done: dict[str, Outcome] = {}
        if not self.path.exists():
            return done
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                outcome = Outcome(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: that photo is simply redone
            done[outcome.key] = outcome
        return done

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8")

    def record(self, outcome: Outcome) -> None:
        entry = asdict(outcome) | {"resumed": False}
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class ApiError(Exception):
    """A problem answer (RFC 9457) or a transport failure, with the server's machine code."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.body = status, code, detail, body or {}


class FacematchApi:
    """The few calls the importer needs, with retries for overload and transient failures."""

    def __init__(self, client: httpx.AsyncClient, *, retries: int = 4) -> None:
        self.client = client
        self.retries = retries

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise ApiError(0, "transport_error", f"{type(exc).__name__}: {exc}") from exc
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt == self.retries:
                    return response
                retry_after = response.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = max(delay, float(retry_after))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    @staticmethod
    def problem(response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = str(body.get("code") or f"http_{response.status_code}")
        detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
        return ApiError(response.status_code, code, detail, body)

    async def _json(self, method: str, url: str, ok: set[int], **kwargs: Any) -> dict[str, Any]:
        """The answer's JSON object (every facematch answer with a body is one)."""
        response = await self.request(method, url, **kwargs)
        if response.status_code not in ok:
            raise self.problem(response)
        body: dict[str, Any] = response.json()
        return body

    async def _pages(self, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self._json("GET", url, {200}, params=params | {"offset": offset})
            batch = page["items"]
            items.extend(batch)
            offset += len(batch)
            if not batch or offset >= page.get("total", offset):
                return items

    async def ensure_collection(self, name: str, *, create: bool) -> tuple[str, bool]:
        """(collection id, whether it was created now); `name` may also be an existing id."""
        for item in await self._pages("/v1/collections", {"limit": 100}):
            if name in (item["name"], item["id"]):
                return item["id"], False
        if not create:
            raise ApiError(404, "not_found", f"no collection named {name!r} (use --create)")
        response = await self.request("POST", "/v1/collections", json={"name": name})
        if response.status_code == 409:  # created by someone else meanwhile
            return await self.ensure_collection(name, create=False)
        if response.status_code != 201:
            raise self.problem(response)
        return response.json()["id"], True

    async def ensure_identity(self, collection_id: str, external_id: str) -> tuple[str, bool]:
        """(identity id, whether it existed before)."""
        url = f"/v1/collections/{collection_id}/identities"
        response = await self.request(
            "POST",
            url,
            json={"external_id": external_id, "display_name": external_id.replace("_", " ")},
        )
        if response.status_code == 201:
            return response.json()["id"], False
        if response.status_code != 409:
            raise self.problem(response)
        found = await self._json("GET", url, {200}, params={"external_id": external_id})
        if not found["items"]:
            raise ApiError(409, "conflict", f"identity {external_id!r} conflicts but is not listed")
        return found["items"][0]["id"], True

    async def enrolled_hashes(self, collection_id: str, identity_id: str) -> set[str]:
        """Content hashes of the identity's faces, when the server reports them."""
        url = f"/v1/collections/{collection_id}/identities/{identity_id}/faces"
        faces = await self._pages(url, {"limit": 100})
        return {str(f["content_sha256"]) for f in faces if f.get("content_sha256")}

    async def enroll(
        self, collection_id: str, identity_id: str, photo: Photo, data: bytes, *, largest: bool
    ) -> dict[str, Any]:
        url = f"/v1/collections/{collection_id}/identities/{identity_id}/faces"
        mime = mimetypes.guess_type(photo.path.name)[0] or "application/octet-stream"
        return await self._json(
            "POST",
            url,
            {201},
            files=[("image", (photo.path.name, data, mime))],
            params={"face": "largest"} if largest else None,
        )


def _rejection(photo: Photo, digest: str, code: str, reason: str) -> Outcome:
    status: Status = "skipped" if code == ALREADY_ENROLLED else "rejected"
    return Outcome(photo.external_id, str(photo.path), digest, status, code, reason)


class Importer:
    """Runs one import: bounded concurrency over photos, one identity creation per person."""

    def __init__(
        self,
        api: FacematchApi,
        *,
        collection_id: str,
        journal: Journal,
        concurrency: int,
        largest: bool,
        retry_rejected: bool,
        on_outcome: Callable[[Outcome], None],
    ) -> None:
        self.api = api
        self.collection_id = collection_id
        self.journal = journal
        self.concurrency = concurrency
        self.largest = largest
        self.retry_rejected = retry_rejected
        self.on_outcome = on_outcome
        self._identities: dict[str, asyncio.Task[tuple[str, set[str]]]] = {}

    def _identity(self, external_id: str) -> Awaitable[tuple[str, set[str]]]:
        """Identity id and the hashes already enrolled for it; created once, shared by photos."""
        if external_id not in self._identities:
            self._identities[external_id] = asyncio.ensure_future(self._resolve(external_id))
        return self._identities[external_id]

    async def _resolve(self, external_id: str) -> tuple[str, set[str]]:
        identity_id, existed = await self.api.ensure_identity(self.collection_id, external_id)
        if not existed:
            return identity_id, set()
        return identity_id, await self.api.enrolled_hashes(self.collection_id, identity_id)

    async def _one(self, photo: Photo, digest: str, data: bytes) -> Outcome:
        try:
            identity_id, hashes = await self._identity(photo.external_id)
            if digest in hashes:
                skipped = _rejection(photo, digest, ALREADY_ENROLLED, "listed by the server")
                skipped.uploaded = False
                return skipped
            answer = await self.api.enroll(
                self.collection_id, identity_id, photo, data, largest=self.largest
            )
        except ApiError as exc:
            if exc.status in (400, 413, 415, 422) and exc.code not in {"validation_error"}:
                rejected = exc.body.get("rejected") or [{"code": exc.code, "reason": exc.detail}]
                first = rejected[0]
                return _rejection(photo, digest, str(first["code"]), str(first.get("reason", "")))
            path = str(photo.path)
            return Outcome(photo.external_id, path, digest, "error", exc.code, exc.detail)
        if answer.get("faces"):
            face_id = answer["faces"][0].get("id")
            return Outcome(photo.external_id, str(photo.path), digest, "enrolled", face_id=face_id)
        first = (answer.get("rejected") or [{"code": "unknown", "reason": "no face enrolled"}])[0]
        return _rejection(photo, digest, str(first["code"]), str(first.get("reason", "")))

    async def run(self, photos: list[Photo]) -> None:
        done = self.journal.load()
        queue: asyncio.Queue[Photo] = asyncio.Queue()
        for photo in photos:
            queue.put_nowait(photo)

        async def worker() -> None:
            while True:
                try:
                    photo = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                data = await asyncio.to_thread(photo.path.read_bytes)
                digest = hashlib.sha256(data).hexdigest()
                previous = done.get(f"{photo.external_id}/{digest}")
                finished = previous is not None and (
                    previous.status in ("enrolled", "skipped")
                    or (previous.status == "rejected" and not self.retry_rejected)
                )
                if previous is not None and finished:
                    resumed = Outcome(**(asdict(previous) | {"path": str(photo.path)}))
                    resumed.resumed = True
                    if resumed.status == "enrolled":
                        resumed.status = "skipped"
                    self.on_outcome(resumed)
                    continue
                outcome = await self._one(photo, digest, data)
                if outcome.status != "error":  # errors are retried by the next run
                    self.journal.record(outcome)
                self.on_outcome(outcome)

        self.journal.open()
        try:
            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        finally:
            self.journal.close()
            for task in self._identities.values():
                task.cancel()


async def run_import(
    folder: Path,
    *,
    base_url: str,
    api_key: str,
    collection: str,
    create: bool = True,
    concurrency: int = 4,
    journal_path: Path | None = None,
    largest: bool = False,
    retry_rejected: bool = False,
    timeout_s: float = 120.0,
    on_start: Callable[[int], None] = lambda total: None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Summary:
    """Import `folder` into `collection` (created when missing and `create`); the summary counts
    every photo, including those an earlier run finished."""
    photos = discover(folder)
    journal = Journal(journal_path or default_journal(base_url, collection, folder))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"X-API-Key": api_key},
        timeout=timeout_s,
        limits=limits,
        transport=transport,
    ) as client:
        api = FacematchApi(client)
        collection_id, _ = await api.ensure_collection(collection, create=create)
        summary = Summary(collection_id=collection_id, photos=len(photos), seconds=0.0)

        def record(outcome: Outcome) -> None:
            summary.add(outcome)
            on_outcome(outcome)

        importer = Importer(
            api,
            collection_id=collection_id,
            journal=journal,
            concurrency=concurrency,
            largest=largest,
            retry_rejected=retry_rejected,
            on_outcome=record,
        )
        on_start(len(photos))
        start = time.perf_counter()
        await importer.run(photos)
        summary.seconds = time.perf_counter() - start
    return summary


def render_summary(console: Console, summary: Summary, journal: Path) -> None:
    table = Table(title="facematch import", show_header=False, box=None)
    table.add_row("collection", summary.collection_id)
    table.add_row("photos found", str(summary.photos))
    table.add_row("enrolled now", str(summary.counts["enrolled"]))
    table.add_row("already enrolled (skipped)", str(summary.counts["skipped"]))
    table.add_row("rejected", str(summary.counts["rejected"]))
    table.add_row("errors (retried next run)", str(summary.counts["error"]))
    table.add_row(
        "wall time",
        f"{summary.seconds:.1f} s, {summary.photos_per_second:.2f} photos/s sent",
    )
    table.add_row("journal", str(journal))
    console.print(table)
    if summary.rejects:
        rejects = Table(title="rejected photos by reason")
        rejects.add_column("code")
        rejects.add_column("photos", justify="right")
        rejects.add_column("example")
        for code, count in summary.rejects.most_common():
            rejects.add_row(code, str(count), summary.examples.get(code, ""))
        console.print(rejects)
    for message in summary.errors[:10]:
        console.print(f"[red]error[/red] {message}")


def import_command(
    folder: Annotated[
        Path, typer.Argument(help="Folder of folders: <folder>/<external_id>/<photo>.jpg")
    ],
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="Collection name (or id) to import into.")
    ],
    url: Annotated[
        str, typer.Option(envvar="FACEMATCH_URL", help="Base URL of the facematch service.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str,
        typer.Option(
            envvar=["FACEMATCH_API_KEY", "FACEMATCH_ADMIN_API_KEY"],
            help="API key allowed to enroll (X-API-Key).",
            show_default=False,
        ),
    ] = "",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, max=64, help="Photos in flight at once.")
    ] = 4,
    largest: Annotated[
        bool,
        typer.Option(
            "--largest/--single-face",
            help="Enroll the largest face of group photos instead of rejecting them.",
        ),
    ] = False,
    create: Annotated[
        bool, typer.Option("--create/--no-create", help="Create the collection when missing.")
    ] = True,
    journal: Annotated[
        Path | None,
        typer.Option(
            help="Resume journal (JSON lines); default: one per server/collection/folder "
            "under ~/.cache/facematch/imports."
        ),
    ] = None,
    retry_rejected: Annotated[
        bool, typer.Option(help="Send photos an earlier run saw rejected again.")
    ] = False,
    summary_json: Annotated[
        Path | None, typer.Option(help="Also write the summary as JSON to this file.")
    ] = None,
) -> None:
    """Bulk-enroll photos through the HTTP API: one identity per sub-folder, resumable."""
    console = Console(stderr=True)
    if not api_key:
        raise typer.BadParameter("set --api-key or FACEMATCH_API_KEY", param_hint="--api-key")
    journal_path = journal or default_journal(url, collection, folder)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("importing", total=None, tally="")
        tally: Counter[str] = Counter()

        def on_outcome(outcome: Outcome) -> None:
            tally[outcome.status] += 1
            text = " ".join(f"{k} {tally[k]}" for k in ("enrolled", "skipped", "rejected", "error"))
            progress.update(task, advance=1, tally=text)

        try:
            summary = asyncio.run(
                run_import(
                    folder,
                    base_url=url,
                    api_key=api_key,
                    collection=collection,
                    create=create,
                    concurrency=concurrency,
                    journal_path=journal_path,
                    largest=largest,
                    retry_rejected=retry_rejected,
                    on_start=lambda total: progress.update(task, total=total),
                    on_outcome=on_outcome,
                )
            )
        except (ApiError, FileNotFoundError) as exc:
            console.print(f"[red]import failed:[/red] {exc}")
            raise typer.Exit(2) from exc
    render_summary(console, summary, journal_path)
    if summary_json:
        summary_json.write_text(json.dumps(summary.as_json(), indent=2) + "\n", encoding="utf-8")
    if summary.counts["error"]:
        raise typer.Exit(1)
