"""The weights registry: lookup order, hash checks, and failing fast and clearly when offline.

Network tests only ever talk to servers on 127.0.0.1 started here (or the refused port 9).
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from model.core import weights
from model.core.weights import (
    REGISTRY,
    WeightsHashMismatchError,
    WeightsUnavailableError,
    WeightSpec,
    get_spec,
    resolve_weights,
    sha256_of,
)

CONTENT = b"weights v1"
CONTENT_SHA = "13e35c44395f6cade670c076230362267c5288989d3498e207877d62b859a6d8"  # sha256sum of "weights v1"
REFUSED_URL = "http://127.0.0.1:9/toy.onnx"  # the discard port: nothing listens, the connection is refused


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty weights folder and cache, no overrides from the developer's environment."""
    (tmp_path / "weights").mkdir()
    monkeypatch.setenv("VSDMOT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.ALLOW_UNVERIFIED_ENV, raising=False)
    monkeypatch.delenv(weights.TIMEOUT_ENV, raising=False)
    for spec in REGISTRY.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    return tmp_path


def _register(monkeypatch: pytest.MonkeyPatch, **changes: object) -> WeightSpec:
    fields = dict(
        name="toy", filename="toy.onnx", sha256=CONTENT_SHA, urls=(REFUSED_URL,), hf_repo=None,
        hf_filename=None, licence="test", note="test entry",
    )
    fields.update(changes)
    spec = WeightSpec(**fields)  # type: ignore[arg-type]
    monkeypatch.setitem(REGISTRY, spec.name, spec)
    monkeypatch.delenv(spec.env_var, raising=False)
    return spec


@pytest.fixture
def serve() -> Iterator[Callable[[bytes], str]]:
    """Start a throwaway HTTP server on 127.0.0.1 that answers every GET with the given bytes."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/toy.onnx"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- the registry itself -------------------------------------------------------------------------


def test_every_spec_is_well_formed() -> None:
    for name, spec in REGISTRY.items():
        assert spec.name == name
        assert spec.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", spec.sha256), name
        assert spec.urls or spec.hf_repo, f"{name} has no source"
        assert all(url.startswith("https://") for url in spec.urls), name
        assert spec.licence and spec.note


def test_the_registry_names_the_files_the_brief_requires() -> None:
    assert {"yolox_nano", "light_person_detector_192", "person_reid_0287"} <= set(REGISTRY)
    assert get_spec("yolox_nano").env_var == "VSDMOT_YOLOX_NANO_PATH"
    # Every registered file is one this project tested and pinned: no unverified downloads on offer.
    assert all(spec.sha256 and len(spec.sha256) == 64 and spec.urls for spec in REGISTRY.values())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown weights 'yolo_nano'.*yolox_nano"):
        get_spec("yolo_nano")


def test_sha256_of_known_content(tmp_path: Path) -> None:
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- lookup order --------------------------------------------------------------------------------


def _write(path: Path, content: bytes = CONTENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_lookup_order_explicit_then_env_then_folder_then_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _register(monkeypatch)
    cached = _write(isolated / "cache" / "weights" / "toy.onnx")
    assert resolve_weights("toy") == cached
    in_folder = _write(isolated / "weights" / "toy.onnx")
    assert resolve_weights("toy") == in_folder
    from_env = _write(isolated / "env" / "toy.onnx")
    monkeypatch.setenv(spec.env_var, str(from_env))
    assert resolve_weights("toy") == from_env
    explicit = _write(isolated / "explicit" / "toy.onnx")
    assert resolve_weights("toy", explicit) == explicit


def test_an_explicit_path_that_is_not_a_file_says_so(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _register(monkeypatch)
    with pytest.raises(FileNotFoundError, match="the given path points at .*nowhere.onnx"):
        resolve_weights("toy", isolated / "nowhere.onnx")
    monkeypatch.setenv(spec.env_var, str(isolated / "also-nowhere.onnx"))
    with pytest.raises(FileNotFoundError, match="VSDMOT_TOY_PATH points at"):
        resolve_weights("toy")


# --- hash checks ---------------------------------------------------------------------------------


def test_a_different_local_file_names_the_file_and_both_hashes(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch)
    wrong = _write(isolated / "weights" / "toy.onnx", b"abc")
    with pytest.raises(WeightsHashMismatchError) as caught:
        resolve_weights("toy")
    message = str(caught.value)
    assert str(wrong) in message
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in message
    assert CONTENT_SHA in message
    assert weights.ALLOW_UNVERIFIED_ENV in message
    monkeypatch.setenv(weights.ALLOW_UNVERIFIED_ENV, "1")  # deliberately one's own export
    assert resolve_weights("toy") == wrong


def test_an_unpinned_spec_is_refused_unless_allowed(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, sha256=None)
    local = _write(isolated / "weights" / "toy.onnx")
    with pytest.raises(WeightsHashMismatchError, match="no verified sha256"):
        resolve_weights("toy")
    monkeypatch.setenv(weights.ALLOW_UNVERIFIED_ENV, "1")
    assert resolve_weights("toy") == local


def test_an_unpinned_spec_is_not_downloaded_unless_allowed(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, sha256=None)
    skipped = re.escape(REFUSED_URL) + r" \(skipped: no verified sha256"
    with pytest.raises(WeightsUnavailableError, match=skipped):
        resolve_weights("toy")


# --- downloads (local servers only) --------------------------------------------------------------


@pytest.mark.timeout(20)
def test_download_lands_verified_in_the_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, serve: Callable[[bytes], str]
) -> None:
    _register(monkeypatch, urls=(REFUSED_URL, serve(CONTENT)))  # the first source is down, the second works
    path = resolve_weights("toy")
    assert path == isolated / "cache" / "weights" / "toy.onnx"
    assert path.read_bytes() == CONTENT
    assert [p.name for p in path.parent.iterdir()] == ["toy.onnx"]  # no partial files left behind


@pytest.mark.timeout(20)
def test_a_download_with_the_wrong_hash_is_an_error_and_is_deleted(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, serve: Callable[[bytes], str]
) -> None:
    _register(monkeypatch, urls=(serve(b"abc"),))
    with pytest.raises(WeightsHashMismatchError, match="sha256 ba7816bf.*expected 13e35c44") as caught:
        resolve_weights("toy")
    assert "ALLOW_UNVERIFIED" not in str(caught.value)  # a bad download can never be waved through
    assert list((isolated / "cache" / "weights").iterdir()) == []


@pytest.mark.timeout(10)
def test_offline_fails_fast_with_a_message_that_says_what_to_do(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch)
    with pytest.raises(WeightsUnavailableError) as caught:
        resolve_weights("toy")
    message = str(caught.value)
    hints = ("toy.onnx", REFUSED_URL, "VSDMOT_TOY_PATH", "VSDMOT_WEIGHTS_DIR", "weights=/path/to/toy.onnx", "refused")
    for expected in hints:
        assert expected in message, expected


@pytest.mark.timeout(10)
def test_a_server_that_never_answers_times_out(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection, never sends a byte
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/toy.onnx"
        _register(monkeypatch, urls=(url,))
        monkeypatch.setenv(weights.TIMEOUT_ENV, "0.5")
        with pytest.raises(WeightsUnavailableError, match="timed out"):
            resolve_weights("toy")
    finally:
        silent.close()


def test_download_false_never_touches_the_network(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch)
    with pytest.raises(WeightsUnavailableError, match=r"no download \(download=False\)"):
        resolve_weights("toy", download=False)


def test_hub_source_is_tried_first_and_installed_into_the_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub client is replaced by a fake that writes the file, as hf_hub_download would."""
    import huggingface_hub

    calls: list[tuple[str, str]] = []

    def fake_hub_download(repo_id: str, filename: str, local_dir: Path, etag_timeout: float) -> str:
        calls.append((repo_id, filename))
        return str(_write(Path(local_dir) / filename))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub_download)
    _register(monkeypatch, hf_repo="someone/toy", hf_filename="toy-v1.onnx")
    path = resolve_weights("toy")
    assert calls == [("someone/toy", "toy-v1.onnx")]
    assert path == isolated / "cache" / "weights" / "toy.onnx" and path.read_bytes() == CONTENT


def test_a_failing_hub_is_reported_alongside_the_urls(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def offline_hub(*args: object, **kwargs: object) -> str:
        raise OSError("hub unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline_hub)
    _register(monkeypatch, hf_repo="someone/toy")
    reported = r"hf://someone/toy/toy.onnx \(OSError: hub unreachable\)"
    with pytest.raises(WeightsUnavailableError, match=reported):
        resolve_weights("toy")


# --- the real files ------------------------------------------------------------------------------


def test_pinned_hashes_match_the_offline_bundle(weights_dir: Path) -> None:
    lines = [line for sums_file in sorted(weights_dir.glob("SHA256SUMS*")) for line in sums_file.read_text().splitlines()]
    sums = {name: digest for digest, name in (line.split() for line in lines if line.strip())}
    pinned = [spec for spec in REGISTRY.values() if spec.sha256 is not None]
    assert {spec.filename for spec in pinned} == set(sums)
    for spec in pinned:
        assert spec.sha256 == sums[spec.filename] == sha256_of(weights_dir / spec.filename)


def test_resolve_finds_the_bundle_copy(weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VSDMOT_YOLOX_NANO_PATH", raising=False)
    assert resolve_weights("yolox_nano") == weights_dir / "yolox_nano.onnx"

