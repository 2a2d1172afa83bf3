"""The ASGI app: `app.main:app`, built by `create_app()`.

The lifespan owns the long-lived objects: the database engine, the ONNX pipeline, the face index
(FAISS registry rebuilt from SQL on start-up, or pgvector in the database) and the bounded inference
thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.api import compreface, deepstack
from app.api.body_limit import BodySizeLimit
from app.api.console import install_console
from app.api.docs import install_docs
from app.api.errors import Problem, install_error_handlers
from app.api.metrics import configure_json_logging, install_observability
from app.api.openapi_caps import document_caps, query_caps
from app.api.rate_limit import TokenBuckets
from app.api.rekognition.routes import router as rekognition_router
from app.api.routes import (
    audit,
    collections,
    detect,
    faces,
    health,
    identities,
    keys,
    matching,
    models,
)
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.template_codec import TemplateKeyring
from app.db.vectors import HnswParams
from app.index.registry import IndexRegistry
from app.services.audit import track_writes
from app.services.face_index import FaceIndex
from app.services.index_sync import IndexSync
from app.services.inference import InferenceRunner
from app.services.pgvector_index import PgvectorIndex
from app.settings import Settings, get_settings
from app.vision.pipeline import VisionPipeline

log = logging.getLogger(__name__)

_DEFAULT_DIM = 128  # only used when the models are missing and the service runs degraded

_TAGS = [
    {"name": "collections", "description": "Galleries of people; the unit of tenancy."},
    {"name": "identities", "description": "People in a collection."},
    {"name": "faces", "description": "Enroll photos of an identity; list and delete templates."},
    {"name": "matching", "description": "Identify (1:N) and verify (1:1)."},
    {"name": "detection", "description": "Find faces without storing anything."},
    {"name": "keys", "description": "Scoped API keys (admin)."},
    {"name": "models", "description": "The model in service and its thresholds."},
    {"name": "audit", "description": "Who did what to which ids (admin; no biometric data)."},
    {"name": "health", "description": "Liveness and readiness probes (no key needed)."},
    {
        "name": deepstack.TAG,
        "description": "DeepStack's face API (`/v1/vision/face/...`) for its existing clients: "
        "the key in the `api_key` form field, scores on facematch's calibrated 0-1 scale. "
        "See docs/compat.md.",
    },
    {
        "name": compreface.TAG,
        "description": "CompreFace's recognition, detection and verification API "
        "(`/api/v1/...`) for its SDK and Double Take: the key in `x-api-key`, similarities on "
        "facematch's calibrated 0-1 scale. See docs/compat.md.",
    },
]


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def load_pipeline(settings: Settings) -> VisionPipeline | None:
    try:
        return VisionPipeline.load(
            settings.model_dir,
            threads=settings.inference_threads,
            flip_tta=settings.flip_tta,
            fused_chips=settings.fused_chips,
            detect_max_side=settings.detect_max_side,
            max_image_pixels=settings.max_image_pixels,
            embed_batch_window_ms=settings.embed_batch_window_ms,
            int8_models=settings.int8_models,
            lean_detector=settings.lean_detector,
        )
    except (OSError, ValueError, KeyError) as exc:
        # Serve anyway: /readyz reports models_unavailable and CRUD keeps working.
        log.error("face models not loaded from %s: %s", settings.model_dir, exc)
        return None


def create_app(
    settings: Settings | None = None,
    *,
    pipeline: VisionPipeline | None = None,
    json_logs: bool = True,
) -> FastAPI:
    """The app. Tests pass their own settings and an already-loaded pipeline."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if json_logs:
            configure_json_logging()
        url = settings.effective_database_url
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade_to_head, url)
        engine = create_db_engine(
            url,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            socket_timeout_s=settings.db_socket_timeout_s,
        )
        loaded = pipeline or await run_in_threadpool(load_pipeline, settings)
        dim = loaded.embedding_dim if loaded else _DEFAULT_DIM
        hnsw = HnswParams(
            m=settings.pgvector_hnsw_m,
            ef_construction=settings.pgvector_ef_construction,
            ef_search=settings.pgvector_ef_search,
        )
        pgvector = settings.index_backend == "pgvector"
        sessions = session_factory(
            engine,
            keyring=TemplateKeyring.from_settings(settings),
            pgvector=hnsw if pgvector else None,
        )
        index: FaceIndex = (
            PgvectorIndex(sessions, dim=dim, params=hnsw)
            if pgvector
            else IndexSync(IndexRegistry(dim, exact_max=settings.index_exact_max))
        )
        track_writes(sessions)  # every write through these sessions leaves an audit event
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.pipeline = loaded
        app.state.index = index
        app.state.runner = InferenceRunner(
            workers=settings.inference_workers, timeout_s=settings.inference_timeout_s
        )
        # /readyz's database round trip runs here, never in the request thread pool (health.py).
        app.state.probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe")
        app.state.rate_limits = TokenBuckets(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )

        model_id = loaded.model_id if loaded else "none"

        def start_index() -> str:
            with sessions() as session:
                return index.start(
                    session, snapshot_dir=settings.index_snapshot_dir, model_id=model_id
                )

        how = await run_in_threadpool(start_index)
        log.info("index ready (%s): %d templates", how, sum(index.face_counts().values()))
        obs = app.state.observability
        if loaded is not None:
            obs.set_model_info(
                model_id=loaded.model_id,
                embedding_dim=loaded.embedding_dim,
                default_threshold=loaded.default_threshold,
            )
        obs.set_face_counts(index.face_counts)
        try:
            yield
        finally:
            app.state.runner.shutdown()
            app.state.probe_pool.shutdown(wait=False, cancel_futures=True)
            if pipeline is None and loaded is not None:
                # Only what this lifespan loaded: a caller's pipeline may serve other apps.
                loaded.close()
            if settings.index_snapshot_dir is not None:
                snapshot_dir = settings.index_snapshot_dir

                def save() -> None:
                    with sessions() as session:
                        index.save_snapshot(session, snapshot_dir=snapshot_dir, model_id=model_id)

                try:
                    await run_in_threadpool(save)
                except Exception:  # a failed snapshot only costs a slower next start
                    log.exception("index snapshot not saved")
            engine.dispose()

    app = FastAPI(
        title="facematch",
        version=__version__,
        summary="Self-hosted face matching: enroll, verify (1:1) and identify (1:N).",
        description=(
            "Every `/v1` call needs an `X-API-Key` header. Photos travel as multipart file fields "
            "or as base64 strings in JSON. Errors are RFC 9457 problems "
            "(`application/problem+json`) with a stable `code`."
        ),
        lifespan=lifespan,
        openapi_tags=_TAGS,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    # Metrics outermost so refused bodies are counted too; the body cap wraps everything else.
    doors = (deepstack, compreface)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        read_timeout_s=settings.body_read_timeout_s,
        refusals={prefix: door.too_large for door in doors for prefix in door.PREFIXES},
    )
    # Logging is configured when the app starts, not when this module is imported.
    install_observability(app, json_logs=False)
    install_error_handlers(app)
    for module in (health, collections, identities, faces, matching, detect, keys, models, audit):
        app.include_router(module.router)
    for door in doors:
        app.include_router(door.router)
    app.include_router(rekognition_router)
    install_docs(app)
    install_console(app)
    _finish_openapi(app, settings)
    return app


def _finish_openapi(app: FastAPI, settings: Settings) -> None:
    """What the routes cannot say themselves: `Problem` in components even before any route
    references it, and this app's caps (page size, faces per photo) on its query parameters."""
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.setdefault("Problem", Problem.model_json_schema())
            document_caps(schema, query_caps(settings))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
