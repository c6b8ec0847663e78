"""Every external weight file the project can use, and one way to get hold of it.

Why a registry: the same files are needed by the CLI, the tests, the training scripts and the
web app, on machines with and without internet. Each file is found in a fixed order -- an
explicit path, an environment variable, the offline weights folder, the download cache, and
only then the network -- and is always checked against a pinned SHA-256, so a truncated
download or a silently different export can never be used by accident.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from model.core import settings

ALLOW_UNVERIFIED_ENV = "VSDMOT_ALLOW_UNVERIFIED"
TIMEOUT_ENV = "VSDMOT_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 3.0


class WeightsUnavailableError(FileNotFoundError):
    """No usable copy of a weight file exists locally and none could be downloaded."""


class WeightsHashMismatchError(ValueError):
    """A weight file exists but is not the file the registry pins."""


@dataclass(frozen=True)
class WeightSpec:
    """One external weight file.

    ``sha256=None`` means no hash has been verified by this project: such a file is refused
    unless ``VSDMOT_ALLOW_UNVERIFIED=1``. ``urls`` are tried in order after ``hf_repo``.
    """

    name: str
    filename: str
    sha256: str | None
    urls: tuple[str, ...]
    hf_repo: str | None
    hf_filename: str | None
    licence: str
    note: str

    @property
    def env_var(self) -> str:
        """Environment variable that points at a local copy, e.g. ``VSDMOT_YOLOX_NANO_PATH``."""
        return f"VSDMOT_{self.name.upper()}_PATH"


_MEGVII_RELEASE = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0"
_KAZUHITO_MOT = "https://github.com/Kazuhito00/MOT-Tracking-by-Detection-Pipeline/raw"

REGISTRY: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            name="yolox_nano",
            filename="yolox_nano.onnx",
            sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
            urls=("https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/HEAD/model/yolox_nano.onnx",),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 (Megvii YOLOX)",
            note=(
                "YOLOX-Nano, COCO, 416x416, opset 11, 3,660,092 bytes: the export published in "
                "Kazuhito00/YOLOX-ONNX-TFLite-Sample (model/yolox_nano.onnx), which is the URL that "
                "serves this pinned file. The hash is that of the copy the tests run on (offline "
                "bundle, matches its SHA256SUMS). The official Megvii release asset "
                f"{_MEGVII_RELEASE}/yolox_nano.onnx is a different export (3,659,407 bytes, reported "
                "sha256 c789161e...), not registered: this project has not tested it."
            ),
        ),
        WeightSpec(
            name="light_person_detector_192",
            filename="light_person_detector_192.onnx",
            sha256="4bf5f704cd3bd900645a4303e0934ede13d9fb2135058b38005f4c2886c68576",
            urls=(f"{_KAZUHITO_MOT}/HEAD/Detector/light_person_detector/model/model.onnx",),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 (Kazuhito00/Person-Detection-using-RaspberryPi-CPU)",
            note=(
                "Person-only YOLOX-format detector, 192x192, output [1,756,6]; fast but misses small "
                "people. Upstream it is named model.onnx in Kazuhito00/MOT-Tracking-by-Detection-"
                "Pipeline; the hash is that of the offline-bundle copy (not re-checked against the URL)."
            ),
        ),
        WeightSpec(
            name="person_reid_0287",
            filename="person-reidentification-retail-0287.onnx",
            sha256="f35a22885b93aa0c249d665b4cf5510d08ded92f814694c3c2fec0112b0d3a56",
            urls=(
                f"{_KAZUHITO_MOT}/181787ca9b232eaf4a7327deb2e93d8fc8e1885c/"
                "Tracker/person_reid/model/person-reidentification-retail-0287.onnx",
            ),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 (Intel Open Model Zoo)",
            note=(
                "Intel OMZ person-reidentification-retail-0287 converted to ONNX (via PINTO_model_zoo "
                "083), as committed in Kazuhito00/MOT-Tracking-by-Detection-Pipeline. Input inputs:0 "
                "[1,256,128,3] NHWC BGR 0..255, output Identity:0 [1,256]. Hash is that of the "
                "offline-bundle copy (not re-checked against the URL)."
            ),
        ),
        WeightSpec(
            name="person_reid_0288",
            filename="person-reidentification-retail-0288.onnx",
            sha256="f3966d905e7232026aa8b814c328231a7b45c5b6b4dd32f886894223c4441b80",
            urls=(f"{_KAZUHITO_MOT}/HEAD/Tracker/person_reid/model/person-reidentification-retail-0288.onnx",),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 (Intel Open Model Zoo)",
            note=(
                "Intel OMZ person-reidentification-retail-0288 (smaller than 0287), same source and I/O "
                "convention: [1,256,128,3] NHWC BGR 0..255 -> 256-d. Hash of the offline-bundle copy "
                "(not re-checked against the URL)."
            ),
        ),
        WeightSpec(
            name="person_reid_0248",
            filename="person-reidentification-retail-0248.onnx",
            sha256="43891ce644ff6f4c70cce150028e44d6cf3d150cb5a3eb75bf69bfaef0ebe789",
            urls=(f"{_KAZUHITO_MOT}/HEAD/Tracker/person_reid/model/person-reidentification-retail-0248.onnx",),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 (Intel Open Model Zoo)",
            note=(
                "Intel OMZ person-reidentification-retail-0248, same source and I/O convention as 0287 "
                "([1,256,128,3] NHWC BGR 0..255 -> 256-d). Hash of the offline-bundle copy (not re-checked "
                "against the URL)."
            ),
        ),
        WeightSpec(
            name="osnet_x0_25_msmt17",
            filename="osnet_x0_25_msmt17.onnx",
            sha256="bb2267b23a64675f67bffc3177b7319e3a08de56041d153562c0206699634bce",
            urls=("https://github.com/Smorodov/Multitarget-tracker/raw/HEAD/data/reid/osnet_x0_25_msmt17.onnx",),
            hf_repo=None,
            hf_filename=None,
            licence="Apache-2.0 repository, OSNet code MIT; weights trained on MSMT17 (research-only data set)",
            note=(
                "OSNet-x0.25 person re-ID trained on MSMT17, as committed in Smorodov/Multitarget-tracker "
                "data/reid/. Input images [1,3,256,128] NCHW, output 512-d. MSMT17 is research-only: "
                "anything distilled from it inherits research-only use. Hash of the offline-bundle copy "
                "(not re-checked against the URL)."
            ),
        ),
    )
}


def get_spec(name: str) -> WeightSpec:
    if name not in REGISTRY:
        raise ValueError(f"unknown weights {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, so reloading is free


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_of(path)
    return _verified[key]


def _allow_unverified() -> bool:
    return os.environ.get(ALLOW_UNVERIFIED_ENV, "").strip() in {"1", "true", "yes"}


def verify_weights(spec: WeightSpec, path: Path, *, downloaded: bool = False) -> Path:
    """Check ``path`` against the pinned hash.

    A local file that differs can still be used on purpose (your own export) with
    ``VSDMOT_ALLOW_UNVERIFIED=1``; a downloaded file that differs never is.
    """
    if spec.sha256 is None:
        if _allow_unverified():
            return path
        raise WeightsHashMismatchError(
            f"{spec.filename} ({spec.name}) has no verified sha256 in the registry, so {path} cannot be "
            f"checked; set {ALLOW_UNVERIFIED_ENV}=1 to use it anyway (its sha256 is {_cached_sha256(path)})"
        )
    actual = _cached_sha256(path)
    if actual == spec.sha256:
        return path
    if _allow_unverified() and not downloaded:
        return path
    hint = "" if downloaded else f"; if this is deliberately a different export, set {ALLOW_UNVERIFIED_ENV}=1"
    raise WeightsHashMismatchError(
        f"{path} is not the expected {spec.filename} ({spec.name}): "
        f"sha256 {actual}, expected {spec.sha256}{hint}"
    )


def resolve_weights(name: str, local_path: str | Path | None = None, *, download: bool = True) -> Path:
    """Return a verified local path for weights ``name``, downloading only as a last resort.

    Order: ``local_path`` -> ``$VSDMOT_<NAME>_PATH`` -> ``settings.weights_dir()/<filename>`` ->
    ``settings.cache_dir()/weights/<filename>`` -> Hugging Face Hub / HTTPS into that cache.
    """
    spec = get_spec(name)
    explicit = Path(local_path).expanduser() if local_path is not None else None
    from_env = os.environ.get(spec.env_var, "").strip()
    env_path = Path(from_env).expanduser() if from_env else None
    for given, origin in ((explicit, "the given path"), (env_path, spec.env_var)):
        if given is None:
            continue
        if not given.is_file():
            raise FileNotFoundError(
                f"{origin} points at {given}, which is not a file; fix the path or unset it"
            )
        return verify_weights(spec, given)
    folder = settings.weights_dir()
    if folder is not None and (folder / spec.filename).is_file():
        return verify_weights(spec, folder / spec.filename)
    cached = settings.cache_dir() / "weights" / spec.filename
    if cached.is_file():
        return verify_weights(spec, cached)
    tried: list[str] = []
    if download:
        if spec.sha256 is None and not _allow_unverified():
            raise WeightsUnavailableError(
                _unavailable_message(
                    spec,
                    [
                        f"{url} (skipped: no verified sha256; set {ALLOW_UNVERIFIED_ENV}=1 to allow it)"
                        for url in spec.urls
                    ],
                )
            )
        path = _download(spec, cached, tried)
        if path is not None:
            return path
    raise WeightsUnavailableError(_unavailable_message(spec, tried))


def _download_timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _download(spec: WeightSpec, target: Path, tried: list[str]) -> Path | None:
    """Try every source; a wrong hash from any source is an error, not a reason to try the next."""
    timeout = _download_timeout()
    target.parent.mkdir(parents=True, exist_ok=True)
    if spec.hf_repo is not None:
        label = f"hf://{spec.hf_repo}/{spec.hf_filename or spec.filename}"
        try:
            fetched = _fetch_from_hub(spec, target.parent, timeout)
        except Exception as exc:  # the hub raises many types (offline, 404, auth); all mean "not here"
            tried.append(f"{label} ({type(exc).__name__}: {exc})")
        else:
            return _install(spec, fetched, target)
    for url in spec.urls:
        handle, name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=target.parent)
        os.close(handle)
        partial = Path(name)
        try:
            _fetch_url(url, partial, timeout)
        except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
            partial.unlink(missing_ok=True)
            tried.append(f"{url} ({getattr(exc, 'reason', exc)})")
            continue
        return _install(spec, partial, target)
    return None


def _install(spec: WeightSpec, fetched: Path, target: Path) -> Path:
    try:
        verify_weights(spec, fetched, downloaded=True)
    except WeightsHashMismatchError:
        fetched.unlink(missing_ok=True)
        raise
    if fetched != target:
        shutil.move(str(fetched), target)
    return target


def _fetch_from_hub(spec: WeightSpec, folder: Path, timeout: float) -> Path:
    from huggingface_hub import hf_hub_download

    name = spec.hf_filename or spec.filename
    path = Path(hf_hub_download(spec.hf_repo, name, local_dir=folder / ".hf", etag_timeout=timeout))
    return path


def _fetch_url(url: str, destination: Path, timeout: float) -> None:
    """Plain HTTPS download with a bounded wait, including the name lookup urllib cannot bound."""
    host = urllib.parse.urlsplit(url).hostname or ""
    _resolve_host(host, timeout)
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def _resolve_host(host: str, timeout: float) -> None:
    result: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, 443)
            result.append(None)
        except OSError as exc:
            result.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        raise TimeoutError(f"name lookup for {host} took more than {timeout:g}s")
    if result[0] is not None:
        raise result[0]


def _unavailable_message(spec: WeightSpec, tried: list[str]) -> str:
    folder = settings.weights_dir()
    lines = [
        f"weights {spec.name!r} ({spec.filename}) are not available offline and could not be downloaded.",
        "Tried: " + ("; ".join(tried) if tried else "no download (download=False)"),
        "To use a local copy, do one of:",
        f"  - pass its path explicitly from Python (weights=/path/to/{spec.filename})",
        f"  - set {spec.env_var}=/path/to/{spec.filename}",
        f"  - put {spec.filename} in the weights folder (VSDMOT_WEIGHTS_DIR"
        + (f", currently {folder})" if folder else ", currently none found)"),
        f"  - put it in the download cache {settings.cache_dir() / 'weights'}",
    ]
    return "\n".join(lines)
