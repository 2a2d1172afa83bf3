"""The one settings class. Every default lives here; read from FACEMATCH_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Which models run their int8 sibling (model_export/quantize.py): the service's one int8 switch.
Int8Models = Literal["none", "embedder", "detector", "all"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACEMATCH_", env_file=".env", extra="ignore")

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"), description="Where the SQLite file, keys and snapshots live."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file under data_dir."
    )
    model_dir: Path = Field(Path("models"), description="ONNX models and manifest.json.")

    # --- auth --------------------------------------------------------------------------------
    admin_api_key: SecretStr | None = Field(
        None, description="Admin key. No built-in default: `facematch serve` generates one."
    )

    # --- vision ------------------------------------------------------------------------------
    min_face_size: int = Field(
        40, ge=12, description="Smallest face (pixels) the detector looks for."
    )
    detect_max_side: int = Field(1024, ge=128, description="Detection runs on a copy this size.")
    max_faces_per_image: int = Field(32, ge=1)
    fused_chips: bool = Field(
        True,
        description="Each template averages 4 embeddings: MTCNN's chip, dlib's chip (its 5-point "
        "shape predictor) and their mirrors. LFW 10-fold CV 99.09% vs 98.75% for one chip, for "
        "4x the embedding cost (docs/thresholds.md); overrides flip_tta. Templates stay "
        "comparable with single-chip ones (same model id).",
    )
    flip_tta: bool = Field(
        False,
        description="Without fused_chips: also embed the mirrored chip and average, +0.19 pt LFW "
        "CV accuracy for 2x the embedding cost (docs/thresholds.md).",
    )
    lean_detector: bool = Field(
        False,
        description="Detector with PNet threshold 0.85 and RNet NMS 0.6: 1.6-1.8x faster per "
        "640x480 photo, but it misses more faces (LFW 3 vs 1 of 4,992; multiface 30 vs 31 of "
        "32) and moves landmarks (-0.3 pt LFW DevTest accuracy; docs/thresholds.md), so off by "
        "default.",
    )
    int8_models: Int8Models = Field(
        "none",
        description="Models that run their int8 sibling (embedder, detector, all or none); "
        "measured cost in docs/thresholds.md.",
    )
    inference_threads: int = Field(2, ge=1, description="onnxruntime intra-op threads per session.")
    inference_workers: int = Field(2, ge=1, description="Thread pool size for CPU-bound work.")
    inference_timeout_s: float = Field(30.0, gt=0)
    embed_batch_window_ms: float = Field(
        0.0,
        ge=0,
        le=50,
        description=(
            "Embed faces of concurrent requests together, waiting at most this long for more; "
            "0 = off (see bench/README.md)."
        ),
    )
    match_threshold: float | None = Field(
        None, ge=-1, le=1, description="Cosine similarity threshold; default: the model's own."
    )

    # --- limits ------------------------------------------------------------------------------
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    body_read_timeout_s: float = Field(
        60.0,
        gt=0,
        description="The whole request body must arrive within this long (408 otherwise): "
        "10 MiB in 60 s needs 1.4 Mbit/s. Bounds what a trickling client can hold.",
    )
    max_image_pixels: int = Field(40_000_000, ge=64)
    page_size_max: int = Field(500, ge=1)
    rate_limit_per_minute: float = Field(
        0, ge=0, description="Requests per minute per API key (token bucket); 0 turns it off."
    )
    max_keys_per_collection: int = Field(
        50,
        ge=1,
        description="Live (unrevoked) API keys a collection may have: rate limits are per key, "
        "so the cap bounds what one tenant can mint its way to.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, GET /metrics needs `Authorization: Bearer <token>` (it lists every "
        "collection's id and face count); unset, it is open: keep it off public networks.",
    )
    rate_limit_burst: int = Field(60, ge=1, description="Bucket size: requests allowed at once.")

    # --- database ----------------------------------------------------------------------------
    db_connect_timeout_s: int = Field(3, ge=1, description="Give up connecting after this long.")
    db_socket_timeout_s: int = Field(
        5,
        ge=1,
        description="PostgreSQL: a connection whose peer stops answering (network partition) "
        "is dropped after about this long (TCP keepalive + TCP_USER_TIMEOUT), so requests "
        "fail with 503 instead of hanging for the whole partition.",
    )
    db_statement_timeout_ms: int = Field(15_000, ge=100, description="PostgreSQL statement cap.")
    migrate_on_start: bool = Field(True, description="Apply Alembic migrations on app start-up.")

    # --- biometric data at rest --------------------------------------------------------------
    template_key: SecretStr | None = Field(
        None,
        description="AES key (base64 or hex, 16/24/32 bytes). When set, templates are stored "
        "AES-GCM encrypted; generate one with `python -c 'from app.db.template_codec import "
        "generate_key; print(generate_key())'`.",
    )
    template_key_id: str = Field(
        "k1",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Id written into every encrypted template; give each new key a new id.",
    )
    template_retired_keys: SecretStr | None = Field(
        None,
        description="Older keys still accepted for reading, as `id:key,id:key`; "
        "`facematch rotate-key` re-encrypts every template under the current key.",
    )

    # --- index -------------------------------------------------------------------------------
    index_snapshot_dir: Path | None = Field(
        None, description="Save the index here on shutdown and load it on start (fast start-up)."
    )
    index_exact_max: int = Field(
        50_000, ge=0, description="Collections larger than this switch to an approximate index."
    )
    index_backend: Literal["faiss", "pgvector"] = Field(
        "faiss",
        description="`faiss`: every process holds every collection in memory (fast, RAM per "
        "replica). `pgvector`: PostgreSQL with the pgvector extension searches, processes hold "
        "nothing (stateless replicas); not with template_key (docs/deploy.md, SECURITY.md).",
    )
    pgvector_hnsw_m: int = Field(16, ge=4, le=100, description="pgvector HNSW graph degree.")
    pgvector_ef_construction: int = Field(
        64, ge=8, le=1000, description="pgvector HNSW build breadth (new partitions only)."
    )
    pgvector_ef_search: int = Field(
        200,
        ge=10,
        le=1000,
        description="pgvector HNSW search breadth (recall vs latency; bench/README.md: recall@1 "
        "0.983 at 1M with 200, 0.943 with 100).",
    )

    @model_validator(mode="after")
    def _pgvector_needs(self) -> Settings:
        if self.index_backend != "pgvector":
            return self
        if self.template_key is not None:
            # The database must read the vectors to search them: sealing them would leave it
            # nothing to index. Refuse rather than silently storing them in the clear.
            raise ValueError(
                "FACEMATCH_INDEX_BACKEND=pgvector cannot be combined with FACEMATCH_TEMPLATE_KEY: "
                "pgvector searches the templates inside PostgreSQL, so they cannot be encrypted "
                "at rest (see SECURITY.md); use the faiss backend to keep templates encrypted"
            )
        if sa.make_url(self.effective_database_url).get_backend_name() != "postgresql":
            raise ValueError(
                "FACEMATCH_INDEX_BACKEND=pgvector needs PostgreSQL with the pgvector extension: "
                "set FACEMATCH_DATABASE_URL=postgresql+psycopg://..."
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'facematch.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once; tests build their own Settings instead."""
    return Settings()
