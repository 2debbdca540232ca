"""The IDX loader on real bytes: tiny files written here, a local HTTP mirror, and the real datasets.

Nothing is mocked: files are written to tmp_path, downloads go through a real
``http.server`` on 127.0.0.1, and only the module's constants (its checksum
table, Debian folder) are patched so the tiny files verify.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import re
import socket
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from autograder import data

TRAIN_IMAGES, TRAIN_LABELS = data.FILES[("train", "images")], data.FILES[("train", "labels")]
TEST_IMAGES, TEST_LABELS = data.FILES[("test", "images")], data.FILES[("test", "labels")]
#: MLP_DATA_DIR as the test run was started with (CI: ../shared/data); the fixture below hides it
REAL_DATA_DIR = os.environ.get("MLP_DATA_DIR", "")


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (1-D labels or 3-D images)."""
    magic = 0x00000800 | arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: a fresh memo, its own cache, no MLP_DATA_DIR, no Debian folder, no real network."""
    monkeypatch.setenv("MLP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setenv("MLP_DATA_MIRRORS", closed_port_url())
    monkeypatch.setattr(data, "_memo", {})
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": tmp_path / "debian" / "fashion-mnist"})


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A fake 'mnist' of 5 train / 3 test images, gzipped in tmp/data/mnist/, its sha256 in the table."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5, 28, 28))
    train[0, 0, :2] = 0, 255  # the extremes scale to exactly 0.0 and 1.0
    arrays = {
        TRAIN_IMAGES: train,
        TRAIN_LABELS: rng.integers(0, 10, 5),
        TEST_IMAGES: rng.integers(0, 256, (3, 28, 28)),
        TEST_LABELS: rng.integers(0, 10, 3),
    }
    contents = {name: idx_bytes(arr) for name, arr in arrays.items()}
    monkeypatch.setitem(data.CHECKSUMS, "mnist", {name: sha256(c) for name, c in contents.items()})
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name, content in contents.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))
    return {"dir": tmp_path / "data", "folder": folder, "arrays": arrays, "contents": contents}


def forget() -> None:
    """Drop the in-process memo and the .idx cache entries, so the next load reads a source file again."""
    data._memo.clear()
    for entry in data.cache_dir().rglob("*.idx"):
        entry.unlink()


def cache_files() -> list[str]:
    root = data.cache_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ----------------------------------------------------------------------------- parsing


def test_parse_idx_images_and_labels():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    parsed = data.parse_idx(idx_bytes(images))
    assert parsed.shape == (2, 28, 28) and parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, images)
    labels = data.parse_idx(idx_bytes(np.array([3, 1, 4])))
    assert labels.shape == (3,) and labels.dtype == np.uint8 and labels.tolist() == [3, 1, 4]


def test_load_mnist_shapes_dtypes_and_scaling(tiny):
    (x, y), (xt, yt) = data.load_mnist(data_dir=tiny["dir"])
    assert x.shape == (5, 784) and xt.shape == (3, 784)
    assert x.dtype == xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert y.shape == (5,) and yt.shape == (3,)
    assert y.tolist() == tiny["arrays"][TRAIN_LABELS].tolist()
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x, (tiny["arrays"][TRAIN_IMAGES].reshape(5, -1) / 255).astype(np.float32))
    assert x.flags.writeable  # a fresh array the caller may normalise in place


def test_load_raw_and_load_split_and_kind(tiny):
    images, labels = data.load_raw("mnist", "test", data_dir=tiny["dir"])
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, tiny["arrays"][TEST_IMAGES])
    assert not images.flags.writeable  # shared with later callers through the memo
    x, y = data.load_split("mnist", "test", data_dir=tiny["dir"])
    assert x.shape == (3, 784) and y.tolist() == labels.tolist()
    for kind, n in (("train", 5), ("test", 3), ("t10k", 3)):
        x, y = data.load_mnist("mnist", tiny["dir"], kind=kind)
        assert x.shape == (n, 784) and y.shape == (n,)
    with pytest.raises(data.DatasetError, match="unknown split"):
        data.load_raw("mnist", "validation", data_dir=tiny["dir"])
    with pytest.raises(data.DatasetError, match="unknown dataset 'kmnist'"):
        data.load_mnist("kmnist")


def test_raw_files_and_gzip_detected_by_magic_bytes_not_by_name(tiny):
    folder = tiny["folder"]
    for name, content in tiny["contents"].items():
        (folder / f"{name}.gz").unlink()
    (folder / TRAIN_IMAGES).write_bytes(gzip.compress(tiny["contents"][TRAIN_IMAGES]))  # gzip, no .gz
    (folder / f"{TRAIN_LABELS}.gz").write_bytes(tiny["contents"][TRAIN_LABELS])  # raw, named .gz
    (folder / TEST_IMAGES).write_bytes(tiny["contents"][TEST_IMAGES])  # raw
    (folder / TEST_LABELS).write_bytes(tiny["contents"][TEST_LABELS])
    (x, y), (xt, yt) = data.load_mnist(data_dir=tiny["dir"])
    assert x.shape == (5, 784) and y.tolist() == tiny["arrays"][TRAIN_LABELS].tolist() and xt.shape == (3, 784)


# ----------------------------------------------------------------------------- bad files


def test_wrong_magic_number_names_the_file_and_the_fix(tiny):
    path = tiny["folder"] / f"{TEST_LABELS}.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x09\x99" + b"\x00" * 8))
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "test", data_dir=tiny["dir"])
    message = str(err.value)
    assert str(path) in message and "wrong magic number 0x00000999" in message
    assert "expected 0x00000801 (labels)" in message and "MLP_DATA_DIR" in message


def test_labels_where_images_belong_is_a_wrong_magic_number(tiny):
    path = tiny["folder"] / f"{TEST_IMAGES}.gz"
    path.write_bytes(gzip.compress(tiny["contents"][TEST_LABELS]))
    with pytest.raises(data.DatasetError, match=r"wrong magic number 0x00000801, expected 0x00000803 \(images\)"):
        data.load_raw("mnist", "test", data_dir=tiny["dir"])


def test_wrong_dims(tiny, monkeypatch):
    content = idx_bytes(np.zeros((3, 27, 28)))
    monkeypatch.setitem(data.CHECKSUMS["mnist"], TEST_IMAGES, sha256(content))  # only the dims are wrong
    path = tiny["folder"] / f"{TEST_IMAGES}.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "test", data_dir=tiny["dir"])
    assert str(path) in str(err.value) and "wrong dims 3x27x28" in str(err.value)


def test_truncated_idx_names_the_file_and_the_sizes(tiny):
    path = tiny["folder"] / TRAIN_IMAGES  # raw, no gzip
    (tiny["folder"] / f"{TRAIN_IMAGES}.gz").unlink()
    path.write_bytes(tiny["contents"][TRAIN_IMAGES][:-10])
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "train", data_dir=tiny["dir"])
    message = str(err.value)
    assert str(path) in message and "is truncated" in message
    assert "5x28x28 (3936 bytes" in message and "3926 bytes" in message and "MLP_DATA_DIR" in message


def test_truncated_header_and_trailing_bytes():
    with pytest.raises(data.DatasetError, match="x.idx is truncated"):
        data.parse_idx(b"\x00\x00\x08\x03\x00\x00", "x.idx")
    with pytest.raises(data.DatasetError, match="too long"):
        data.parse_idx(idx_bytes(np.zeros(4)) + b"\x00", "x.idx")


def test_truncated_gzip(tiny):
    path = tiny["folder"] / f"{TEST_LABELS}.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "test", data_dir=tiny["dir"])
    assert str(path) in str(err.value) and "truncated or corrupted gzip" in str(err.value)


def test_corrupted_copy_fails_the_hash_and_does_not_fall_through(tiny, tmp_path, monkeypatch):
    content = bytearray(tiny["contents"][TEST_IMAGES])
    content[100] ^= 0xFF
    path = tiny["folder"] / f"{TEST_IMAGES}.gz"
    path.write_bytes(gzip.compress(bytes(content)))
    good = tmp_path / "good" / "mnist"  # a good copy later in the search order is not used
    good.mkdir(parents=True)
    (good / TEST_IMAGES).write_bytes(tiny["contents"][TEST_IMAGES])
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "good"))
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "test", data_dir=tiny["dir"])
    message = str(err.value)
    assert str(path) in message and "corrupted: sha256 mismatch" in message
    assert f"expected {data.CHECKSUMS['mnist'][TEST_IMAGES][:16]}" in message and "MLP_DATA_DIR" in message
    assert not cache_files()  # nothing unverified was cached


def test_a_file_of_the_other_dataset_is_named(tiny, monkeypatch):
    content = idx_bytes(np.ones((3, 28, 28)))
    monkeypatch.setitem(data.CHECKSUMS, "fashion-mnist", {**data.CHECKSUMS["fashion-mnist"],
                                                           TEST_IMAGES: sha256(content)})
    (tiny["folder"] / f"{TEST_IMAGES}.gz").write_bytes(gzip.compress(content))
    with pytest.raises(data.DatasetError, match=f"is the file fashion-mnist/{TEST_IMAGES}, not mnist/"):
        data.load_raw("mnist", "test", data_dir=tiny["dir"])


def test_missing_everywhere_names_the_file_the_places_and_the_fix(tiny, tmp_path):
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "train", data_dir=tmp_path / "nowhere")
    message = str(err.value)
    assert f"{TRAIN_IMAGES}.gz is missing" in message
    assert str(tmp_path / "nowhere" / "mnist") in message and str(tmp_path / "cache" / "mnist") in message
    assert "could not download it: tried http://127.0.0.1:" in message and "refused" in message.lower()
    assert "No internet? Set MLP_DATA_DIR to a folder holding mnist/train-images-idx3-ubyte.gz" in message


# ----------------------------------------------------------------------------- search order


def test_search_order_explicit_then_env_then_cache_then_debian(tiny, tmp_path, monkeypatch):
    good = tiny["contents"][TEST_LABELS]
    bad = b"\x00\x00\x09\x99"  # fails if read
    for where in ("env/mnist", "cache/mnist"):
        (tmp_path / where).mkdir(parents=True)
        (tmp_path / where / TEST_LABELS).write_bytes(bad)
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "env"))
    assert data.load_idx("mnist", TEST_LABELS, tiny["dir"]).tobytes() == good[8:]  # explicit data_dir wins

    forget()
    with pytest.raises(data.DatasetError, match=f"env/mnist/{TEST_LABELS} has the wrong magic"):
        data.load_idx("mnist", TEST_LABELS)  # then MLP_DATA_DIR, before the cache

    monkeypatch.delenv("MLP_DATA_DIR")
    (tmp_path / "cache" / "mnist" / TEST_LABELS).write_bytes(good)
    forget()
    assert data.load_idx("mnist", TEST_LABELS).tobytes() == good[8:]  # then the cache


def test_dataset_subfolder_and_root_of_a_folder(tiny, tmp_path, monkeypatch):
    flat = tmp_path / "flat"  # the four files directly in the folder, no mnist/
    flat.mkdir()
    for name, content in tiny["contents"].items():
        (flat / name).write_bytes(content)
    assert data.load_raw("mnist", "train", data_dir=flat)[0].shape == (5, 28, 28)
    forget()
    monkeypatch.setenv("MLP_DATA_DIR", str(flat))
    assert data.load_raw("mnist", "test")[0].shape == (3, 28, 28)


def test_relative_mlp_data_dir_is_resolved_against_cwd(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLP_DATA_DIR", "data")
    (x, _), _ = data.load_mnist()
    assert x.shape == (5, 784)
    assert str(tmp_path / "data" / "mnist") in data.describe_sources("mnist")[0]


def test_debian_folder_for_fashion_mnist_only(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(data.CHECKSUMS, "fashion-mnist", data.CHECKSUMS["mnist"])
    debian = data.DEBIAN_DIRS["fashion-mnist"]
    debian.mkdir(parents=True)
    for name, content in tiny["contents"].items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(content))
    images, _ = data.load_raw("fashion-mnist", "test")
    assert images.shape == (3, 28, 28)
    sources = data.describe_sources("fashion-mnist")
    assert sources.index(str(debian)) == sources.index(f"{tmp_path / 'cache' / 'fashion-mnist'} (cache)") + 1
    assert str(debian) not in data.describe_sources("mnist")


# ----------------------------------------------------------------------------- caches


def test_memo_and_idx_cache(tiny):
    first, _ = data.load_raw("mnist", "train", data_dir=tiny["dir"])
    assert data.load_raw("mnist", "train", data_dir=tiny["dir"])[0] is first  # in-process memo
    with pytest.raises(ValueError):
        first.setflags(write=True)  # a view of immutable bytes: no caller can alter the shared array
    digest = data.CHECKSUMS["mnist"][TRAIN_IMAGES]
    assert f"mnist/{TRAIN_IMAGES}.{digest}.idx" in cache_files()
    entry = data.cache_dir() / "mnist" / f"{TRAIN_IMAGES}.{digest}.idx"
    assert entry.read_bytes() == tiny["contents"][TRAIN_IMAGES]  # the IDX content itself: hashes to its name
    assert (data.cache_dir().stat().st_mode & 0o777) == 0o700 == (entry.parent.stat().st_mode & 0o777)
    data._memo.clear()
    for path in tiny["folder"].iterdir():  # a second process needs no source file
        path.unlink()
    images, labels = data.load_raw("mnist", "train", data_dir=tiny["dir"])
    np.testing.assert_array_equal(images, tiny["arrays"][TRAIN_IMAGES])
    assert not images.flags.writeable and labels.tolist() == tiny["arrays"][TRAIN_LABELS].tolist()


# ----------------------------------------------------------------------------- untrusted cache
# Student code runs as the same user as the grader and can write the cache: whatever is found
# there is verified on every read, and a bad entry is deleted, never used, and rebuilt.


def cache_entry(name: str) -> Path:
    return data.cache_dir() / "mnist" / f"{name}.{data.CHECKSUMS['mnist'][name]}.idx"


def reload_warning(name: str, tiny: dict, problem: str) -> np.ndarray:
    """Load ``name`` in a 'new process' (empty memo): it must warn that its cache entry was rejected."""
    data._memo.clear()
    expected = re.escape(f"{cache_entry(name)} {problem}") + ".*" + re.escape(
        f"deleted it, did not use it; rebuilt mnist/{name} from {tiny['folder'] / name}.gz")
    with pytest.warns(data.CacheWarning, match=expected):
        arr = data.load_idx("mnist", name, tiny["dir"])
    return arr


def assert_rebuilt(name: str, tiny: dict, arr: np.ndarray) -> None:
    np.testing.assert_array_equal(arr, tiny["arrays"][name])
    entry = cache_entry(name)
    assert not entry.is_symlink() and entry.read_bytes() == tiny["contents"][name]


def same_shape_zeros(name: str, tiny: dict) -> bytes:
    """A well-formed IDX file with the right header and size, all zeros (constant labels)."""
    return idx_bytes(np.zeros_like(tiny["arrays"][name]))


@pytest.mark.parametrize("tamper, problem", [
    (same_shape_zeros, "is corrupted: sha256 mismatch"),
    (lambda name, tiny: tiny["contents"][TRAIN_LABELS], f"is the file mnist/{TRAIN_LABELS}, not mnist/{TEST_LABELS}"),
    (lambda name, tiny: tiny["contents"][name][:-1], "is truncated"),
    (lambda name, tiny: tiny["contents"][name] + b"\x00", "is too long"),
    (lambda name, tiny: b"", "is truncated: 0 bytes"),
    (lambda name, tiny: os.urandom(64), "has the wrong magic number"),
    (lambda name, tiny: gzip.compress(same_shape_zeros(name, tiny)), "has the wrong magic number 0x1f8b"),
], ids=["zeros-same-shape", "other-file-swapped-in", "truncated", "trailing-byte", "empty", "garbage", "gzip"])
def test_tampered_cache_entry_is_deleted_not_used_and_rebuilt(tiny, tamper, problem):
    data.load_raw("mnist", "test", data_dir=tiny["dir"])
    data.load_raw("mnist", "train", data_dir=tiny["dir"])
    cache_entry(TEST_LABELS).write_bytes(tamper(TEST_LABELS, tiny))
    assert_rebuilt(TEST_LABELS, tiny, reload_warning(TEST_LABELS, tiny, problem))
    data._memo.clear()
    (tiny["folder"] / f"{TEST_LABELS}.gz").unlink()
    with warnings.catch_warnings():  # the rebuilt entry verifies: no warning, no source needed
        warnings.simplefilter("error")
        assert data.load_idx("mnist", TEST_LABELS).tolist() == tiny["arrays"][TEST_LABELS].tolist()


def test_tampered_images_entry_is_rebuilt(tiny):
    data.load_raw("mnist", "test", data_dir=tiny["dir"])
    content = bytearray(cache_entry(TEST_IMAGES).read_bytes())
    content[-1] ^= 0x01  # one pixel, one bit
    cache_entry(TEST_IMAGES).write_bytes(bytes(content))
    assert_rebuilt(TEST_IMAGES, tiny, reload_warning(TEST_IMAGES, tiny, "is corrupted: sha256 mismatch"))


def test_symlinked_cache_entry_is_refused_even_to_a_good_copy(tiny, tmp_path):
    data.load_raw("mnist", "test", data_dir=tiny["dir"])
    for target_content in (tiny["contents"][TEST_LABELS], same_shape_zeros(TEST_LABELS, tiny)):
        target = tmp_path / "elsewhere"
        target.write_bytes(target_content)
        cache_entry(TEST_LABELS).unlink()
        cache_entry(TEST_LABELS).symlink_to(target)
        arr = reload_warning(TEST_LABELS, tiny, "is a symbolic link")
        assert_rebuilt(TEST_LABELS, tiny, arr)
        assert target.read_bytes() == target_content  # the link was deleted, never written through


def test_fifo_and_folder_in_place_of_a_cache_entry_are_refused(tiny):
    data.load_raw("mnist", "test", data_dir=tiny["dir"])
    cache_entry(TEST_LABELS).unlink()
    os.mkfifo(cache_entry(TEST_LABELS))  # opening it must not block
    assert_rebuilt(TEST_LABELS, tiny, reload_warning(TEST_LABELS, tiny, "is not a regular file"))
    cache_entry(TEST_LABELS).unlink()
    (cache_entry(TEST_LABELS) / "inside").mkdir(parents=True)  # a folder that cannot be deleted: not used
    data._memo.clear()
    with pytest.warns(data.CacheWarning, match="is not a regular file.*could not delete it"):
        labels = data.load_idx("mnist", TEST_LABELS, tiny["dir"])
    assert labels.tolist() == tiny["arrays"][TEST_LABELS].tolist()


def test_symlinked_download_in_the_cache_is_refused(tiny, tmp_path):
    folder = data.cache_dir() / "mnist"
    folder.mkdir(parents=True)
    (folder / f"{TEST_LABELS}.gz").symlink_to(tiny["folder"] / f"{TEST_LABELS}.gz")  # a good file, but a link
    with pytest.raises(data.DatasetError) as err:  # no other source: refused, not used, and loading stops
        data.load_idx("mnist", TEST_LABELS)
    message = str(err.value)
    assert f"{folder / TEST_LABELS}.gz is a symbolic link" in message and "deleted it, did not use it" in message
    assert "could not download it again" in message
    assert not (folder / f"{TEST_LABELS}.gz").is_symlink() and (tiny["folder"] / f"{TEST_LABELS}.gz").is_file()
    assert not cache_entry(TEST_LABELS).exists()


def test_bad_entry_without_any_source_is_an_error_not_a_use(tiny, tmp_path):
    data.load_raw("mnist", "test", data_dir=tiny["dir"])
    cache_entry(TEST_LABELS).write_bytes(same_shape_zeros(TEST_LABELS, tiny))
    data._memo.clear()
    with pytest.raises(data.DatasetError) as err:
        data.load_idx("mnist", TEST_LABELS, tmp_path / "nowhere")
    assert f"{cache_entry(TEST_LABELS)} is corrupted: sha256 mismatch" in str(err.value)
    assert "deleted it, did not use it" in str(err.value) and not cache_entry(TEST_LABELS).exists()


def test_npy_of_earlier_versions_is_never_read_and_is_removed(tiny):
    legacy = cache_entry(TEST_LABELS).with_suffix(".npy")
    legacy.parent.mkdir(parents=True)
    np.save(legacy, np.zeros(3, np.uint8))  # what the old unverified cache would have returned
    labels = data.load_idx("mnist", TEST_LABELS, tiny["dir"])
    assert labels.tolist() == tiny["arrays"][TEST_LABELS].tolist() and not legacy.exists()


# ----------------------------------------------------------------------------- download


class Mirror:
    """A real HTTP server on 127.0.0.1 serving ``files`` (name -> bytes) and logging the paths asked for."""

    def __init__(self, root: Path, files: dict[str, bytes]):
        root.mkdir(parents=True)
        for name, content in files.items():
            (root / name).write_bytes(content)
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                mirror.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def mirror(tmp_path):
    """Start mirrors serving given files; all are shut down after the test."""
    servers: list[Mirror] = []

    def start(files: dict[str, bytes]) -> Mirror:
        servers.append(Mirror(tmp_path / f"mirror{len(servers)}", files))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_download_uses_the_second_mirror_when_the_first_404s(tiny, mirror, monkeypatch, tmp_path):
    files = {f"{name}.gz": gzip.compress(content) for name, content in tiny["contents"].items()}
    empty, full = mirror({}), mirror(files)
    monkeypatch.setenv("MLP_DATA_MIRRORS", f"{empty.url}, {full.url}")
    (x, y), (xt, _) = data.load_mnist(data_dir=tmp_path / "nowhere")
    assert x.shape == (5, 784) and xt.shape == (3, 784)
    assert f"/{TRAIN_IMAGES}.gz" in empty.requests and f"/{TRAIN_IMAGES}.gz" in full.requests
    for name in tiny["contents"]:
        assert (tmp_path / "cache" / "mnist" / f"{name}.gz").read_bytes() == files[f"{name}.gz"]
    assert not [f for f in cache_files() if f.endswith(".part")]  # no temporary file left behind

    full.close()  # later loads need no network: the downloaded files are in the cache
    monkeypatch.setenv("MLP_DATA_MIRRORS", closed_port_url())
    forget()
    assert data.load_mnist(kind="test")[0].shape == (3, 784)


def test_download_failing_the_hash_is_rejected_and_not_cached(tiny, mirror, monkeypatch, tmp_path):
    files = {f"{name}.gz": gzip.compress(content[:-1] + b"\x01") for name, content in tiny["contents"].items()}
    server = mirror(files)
    monkeypatch.setenv("MLP_DATA_MIRRORS", server.url)
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "train", data_dir=tmp_path / "nowhere")
    message = str(err.value)
    assert f"{server.url}{TRAIN_IMAGES}.gz (rejected: the download is corrupted: sha256 mismatch" in message
    assert "MLP_DATA_DIR" in message
    assert cache_files() == []


def test_all_mirrors_failing_lists_every_url_and_its_error(tiny, mirror, monkeypatch, tmp_path):
    empty, refused = mirror({}), closed_port_url()
    monkeypatch.setenv("MLP_DATA_MIRRORS", f"{empty.url} {refused}")
    with pytest.raises(data.DatasetError) as err:
        data.load_raw("mnist", "test", data_dir=tmp_path / "nowhere")
    message = str(err.value)
    assert f"tried {empty.url}{TEST_IMAGES}.gz (HTTP 404 File not found); {refused}{TEST_IMAGES}.gz (" in message
    assert "No internet?" in message


def test_corrupt_cached_copy_is_downloaded_again(tiny, mirror, monkeypatch, tmp_path):
    cached = tmp_path / "cache" / "mnist" / f"{TEST_LABELS}.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(gzip.compress(tiny["contents"][TEST_LABELS])[:-8])  # truncated gzip in the cache
    server = mirror({f"{TEST_LABELS}.gz": gzip.compress(tiny["contents"][TEST_LABELS])})
    monkeypatch.setenv("MLP_DATA_MIRRORS", server.url)
    with pytest.warns(data.CacheWarning, match=re.escape(f"{cached} is a truncated or corrupted gzip") + ".*" +
                      re.escape(f"deleted it, did not use it; rebuilt mnist/{TEST_LABELS} from {server.url}")):
        labels = data.load_idx("mnist", TEST_LABELS)
    assert labels.tolist() == tiny["arrays"][TEST_LABELS].tolist()
    assert gzip.decompress(cached.read_bytes()) == tiny["contents"][TEST_LABELS]


def test_corrupt_cached_copy_without_network_says_so(tiny):
    cached = data.cache_dir() / "mnist" / TEST_LABELS
    cached.parent.mkdir(parents=True)
    cached.write_bytes(tiny["contents"][TEST_LABELS][:-1])
    with pytest.raises(data.DatasetError) as err:
        data.load_idx("mnist", TEST_LABELS)
    assert f"{cached} is truncated" in str(err.value) and "could not download it again" in str(err.value)
    assert not cached.exists()


# ----------------------------------------------------------------------------- the real files

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
REAL_COUNTS = {
    "mnist": (MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS),
    "fashion-mnist": ([6000] * 10, [1000] * 10),
}


@pytest.mark.parametrize("dataset", data.DATASETS)
def test_real_files_through_mlp_data_dir(dataset, monkeypatch):
    if not REAL_DATA_DIR:
        pytest.skip("MLP_DATA_DIR is not set (CI sets MLP_DATA_DIR=../shared/data)")
    folder = Path(REAL_DATA_DIR).expanduser().absolute() / dataset
    missing = [name for name in data.CHECKSUMS[dataset]
               if not (folder / f"{name}.gz").is_file() and not (folder / name).is_file()]
    if missing:
        pytest.skip(f"MLP_DATA_DIR={REAL_DATA_DIR} lacks {dataset}/{missing[0]}.gz")
    monkeypatch.setenv("MLP_DATA_DIR", REAL_DATA_DIR)  # relative paths resolve against the cwd
    (x, y), (xt, yt) = data.load_mnist(dataset)
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert y.shape == (60000,) and yt.shape == (10000,)
    train_counts, test_counts = REAL_COUNTS[dataset]
    assert np.bincount(y, minlength=10).tolist() == train_counts
    assert np.bincount(yt, minlength=10).tolist() == test_counts
    for arr in (x, xt):
        assert arr.min() == 0.0 and arr.max() == 1.0
    assert 0.1 < x.mean() < 0.4  # real images, not blank or saturated
    cached = [f for f in cache_files() if f.endswith(".idx")]
    assert len(cached) == 4 and all(f.startswith(f"{dataset}/") for f in cached)
