"""MNIST and Fashion-MNIST from IDX files: find, verify, parse, cache, download.

Arrays returned (N = 60000 for ``train``, 10000 for ``test``):

* ``load_mnist`` / ``load_split``: ``x`` float32 ``(N, 784)`` with values in
  [0, 1] (pixel / 255), ``y`` int64 ``(N,)`` with class indices 0..9;
* ``load_raw``: images uint8 ``(N, 28, 28)``, labels uint8 ``(N,)``, exactly as
  stored (read-only arrays shared by every caller in the process);
* ``load_idx`` / ``parse_idx``: one IDX file, uint8 ``(N, 28, 28)`` or ``(N,)``.

Where each file is looked for, in this order (``<name>.gz`` or the raw
``<name>``; gzip is recognised by its magic bytes, not by the name):

1. the explicit ``data_dir`` argument: ``data_dir/<dataset>/``, then ``data_dir/``;
2. ``$MLP_DATA_DIR/<dataset>/``, then ``$MLP_DATA_DIR/``;
3. the user cache ``<cache>/<dataset>/``, where ``<cache>`` is ``$MLP_CACHE_DIR``,
   else ``$XDG_CACHE_HOME/mlp-backprop``, else ``~/.cache/mlp-backprop``;
4. Fashion-MNIST only: Debian's ``/usr/share/datasets/fashion-mnist``
   (``apt-get install dataset-fashion-mnist``);
5. a download from the public mirrors (``$MLP_DATA_MIRRORS``, base URLs
   separated by commas or spaces, replaces them) into the cache.

Relative paths are resolved against the current directory. Every file is
checked against the sha256 of its *decompressed* content (``CHECKSUMS``), so a
recompressed ``.gz`` is fine and a truncated or altered one is not. The first
file found is the one used: if it fails a check, loading stops with a
``DatasetError`` naming the file, the problem and the fix, except in the
cache (below). A download is kept only when its content verifies, and is moved
into place atomically.

Verified arrays are memoised in the process (read-only) and kept for later
processes as ``<cache>/<dataset>/<name>.<sha256>.idx``: the decompressed IDX
bytes, written atomically, only after their source verified, in folders
created with mode 0700. A later process reads that entry instead of
decompressing the source (about 0.06 s for the 47 MB of training images,
read and sha256-checked, instead of about 0.3 s from the ``.gz``).

Nothing read from the cache is trusted. The cache is writable by every program
of this user, student code included, so *every* read of a cache file (the
``.idx`` entries and the ``.gz`` downloads kept there), in every process, is
verified before use: the file is opened without following a symlink and must
be a regular file; its bytes are read once into memory and must parse as IDX
of the right kind and hash to the expected sha256 (the same check as for any
source file); those very bytes are the array returned. A cache file that is a
symlink, not a regular file, malformed or of the wrong content is deleted and
never used, and the array is rebuilt from the search order (a verified
source or download) with a ``CacheWarning`` saying so; only when no source can
be found does loading stop, with a ``DatasetError``.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import math
import os
import stat
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Literal, Union, overload

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
Arrays = tuple[np.ndarray, np.ndarray]

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")
#: (split, kind) -> IDX file name without ``.gz``
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
#: sha256 of the decompressed IDX content, per dataset and file (read at call time: tests may patch it)
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
#: base URLs tried in order; ``$MLP_DATA_MIRRORS`` replaces the list for any dataset
MIRRORS: dict[str, list[str]] = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
#: system-wide copies installed by Debian packages
DEBIAN_DIRS: dict[str, Path] = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801
IMAGE_SHAPE = (28, 28)
DOWNLOAD_TIMEOUT_S = 30.0
_GZIP_MAGIC = b"\x1f\x8b"
#: a cache file larger than this is refused unread (the largest IDX file is 47 MB)
MAX_CACHE_FILE_BYTES = 1 << 30
#: expected sha256 -> verified read-only array
_memo: dict[str, np.ndarray] = {}


class DatasetError(Exception):
    """A dataset file is missing, unreadable, truncated, corrupted or malformed.

    ``str(error)`` is one message naming the file, the problem and the fix;
    ``problem`` holds the problem alone (e.g. ``"is truncated: ..."``).
    """

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem or message


class CacheWarning(UserWarning):
    """A file in the user cache failed its checks: it was deleted, not used, and rebuilt from a verified source."""


# ----------------------------------------------------------------------------- where


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser().absolute() if value else None


def cache_dir() -> Path:
    """The user cache folder: ``$MLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlp-backprop``, else ``~/.cache/...``."""
    explicit = _env_path("MLP_CACHE_DIR")
    if explicit is not None:
        return explicit
    return (_env_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlp-backprop"


def mirrors(dataset: str) -> list[str]:
    """Base URLs a missing file of ``dataset`` is downloaded from, in order (``$MLP_DATA_MIRRORS`` first)."""
    override = os.environ.get("MLP_DATA_MIRRORS", "").replace(",", " ").split()
    return override or list(MIRRORS[dataset])


def _search_dirs(dataset: str, data_dir: PathLike | None) -> list[tuple[Path, bool]]:
    """(folder, is_cache) pairs in search order."""
    dirs: list[tuple[Path, bool]] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser().absolute()
        dirs += [(root / dataset, False), (root, False)]
    env = _env_path("MLP_DATA_DIR")
    if env is not None:
        dirs += [(env / dataset, False), (env, False)]
    dirs.append((cache_dir() / dataset, True))
    if dataset in DEBIAN_DIRS:
        dirs.append((DEBIAN_DIRS[dataset], False))
    return dirs


def describe_sources(dataset: str = "mnist", data_dir: PathLike | None = None) -> list[str]:
    """Where files of ``dataset`` are looked for, in order: folders, then the download mirrors."""
    _check_dataset(dataset)
    lines = [f"{folder}{' (cache)' if is_cache else ''}" for folder, is_cache in _search_dirs(dataset, data_dir)]
    return lines + [f"download from {url}" for url in mirrors(dataset)]


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")


def _fix_found(path: Path, dataset: str, name: str) -> str:
    return (f"replace {path} with a good copy or delete it, or set MLP_DATA_DIR to a folder holding "
            f"{dataset}/{name}.gz")


# ----------------------------------------------------------------------------- what


def parse_idx(content: bytes, where: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes of unsigned bytes into a read-only uint8 array.

    Images (magic 0x00000803) give ``(N, rows, cols)``, labels (0x00000801)
    give ``(N,)``; ``ndim`` (3 or 1), when given, is the one expected. The byte
    length must match the big-endian dims of the header exactly. Raises
    ``DatasetError`` naming ``where`` on a wrong magic number or a wrong length.
    """
    def bad(problem: str) -> DatasetError:
        return DatasetError(f"{where} {problem}", problem)

    expected_magic = {3: IMAGE_MAGIC, 1: LABEL_MAGIC}.get(ndim) if ndim else None
    if len(content) < 4:
        raise bad(f"is truncated: {len(content)} bytes, too short for an IDX header")
    magic = int.from_bytes(content[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC) or (expected_magic and magic != expected_magic):
        wanted = (f"0x{expected_magic:08x} ({'images' if ndim == 3 else 'labels'})" if expected_magic
                  else f"0x{IMAGE_MAGIC:08x} (images) or 0x{LABEL_MAGIC:08x} (labels)")
        raise bad(f"has the wrong magic number 0x{magic:08x}, expected {wanted}: not an IDX file of this kind")
    rank = content[3]
    header = 4 + 4 * rank
    if len(content) < header:
        raise bad(f"is truncated: {len(content)} bytes, inside its {header}-byte header")
    dims = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    expected = header + math.prod(dims)  # Python ints: no overflow on absurd dims
    if len(content) != expected:
        shape = "x".join(map(str, dims))
        what = "truncated" if len(content) < expected else "too long (trailing bytes)"
        raise bad(f"is {what}: its header declares {shape} ({expected} bytes with the header), "
                  f"the content has {len(content)} bytes")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)  # read-only view


def _decompress(raw: bytes, where: str) -> bytes:
    """``raw`` itself, or its gzip decompression when it starts with the gzip magic bytes 1f 8b."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        problem = f"is a truncated or corrupted gzip file ({type(exc).__name__}: {exc})"
        raise DatasetError(f"{where} {problem}", problem) from None


def _ndim(name: str) -> int:
    return 3 if "-images-" in name else 1


def _verify(raw: bytes, where: str, dataset: str, name: str) -> np.ndarray:
    """Decompress, parse and hash-check the bytes of one file; the verified uint8 array."""
    return _verify_content(_decompress(raw, where), where, dataset, name)


def _verify_content(content: bytes, where: str, dataset: str, name: str) -> np.ndarray:
    """Parse and hash-check uncompressed IDX bytes; the verified uint8 array, a read-only view of ``content``."""
    arr = parse_idx(content, where, _ndim(name))
    if arr.ndim == 3 and arr.shape[1:] != IMAGE_SHAPE:
        problem = (f"has wrong dims {'x'.join(map(str, arr.shape))}: "
                   f"expected N images of {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
        raise DatasetError(f"{where} {problem}", problem)
    digest = hashlib.sha256(content).hexdigest()
    expected = CHECKSUMS[dataset][name]
    if digest != expected:
        other = [f"{d}/{n}" for d, table in CHECKSUMS.items() for n, h in table.items() if h == digest]
        problem = (f"is the file {other[0]}, not {dataset}/{name}" if other else
                   f"is corrupted: sha256 mismatch (its decompressed content hashes to {digest[:16]}..., "
                   f"expected {expected[:16]}...)")
        raise DatasetError(f"{where} {problem}", problem)
    return arr


def _read_verified(path: Path, dataset: str, name: str) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
        raise DatasetError(f"{path} {problem}", problem) from None
    return _verify(raw, str(path), dataset, name)


# ----------------------------------------------------------------------------- download


def make_private_dir(folder: Path) -> Path:
    """Create ``folder`` and its missing parents with mode 0700 (the umask can only narrow it).

    Folders that already exist are left as they are. Returns ``folder``; raises ``OSError``.
    """
    for parent in reversed((folder, *folder.parents)):
        if not parent.is_dir():
            parent.mkdir(mode=0o700, exist_ok=True)
    return folder


def _write_atomic(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temporary file beside ``target``, then rename it into place (all or nothing)."""
    make_private_dir(target.parent)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(dataset: str, name: str) -> tuple[np.ndarray | None, str, list[str]]:
    """Fetch ``name.gz`` from the first mirror whose content verifies and keep it in the cache.

    Returns (verified array, its URL, []) on success, (None, "", one note per URL tried) otherwise.
    """
    tried: list[str] = []
    for base in mirrors(dataset):
        url = base.rstrip("/") + f"/{name}.gz"
        request = urllib.request.Request(url, headers={"User-Agent": "mlp-backprop-grader"})
        try:
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            tried.append(f"{url} (HTTP {exc.code} {exc.reason})")
            continue
        except urllib.error.URLError as exc:
            tried.append(f"{url} ({exc.reason})")
            continue
        except (OSError, http.client.HTTPException, ValueError) as exc:
            tried.append(f"{url} ({type(exc).__name__}: {exc})")
            continue
        try:
            arr = _verify(payload, url, dataset, name)
        except DatasetError as exc:
            tried.append(f"{url} (rejected: the download {exc.problem})")
            continue
        target = cache_dir() / dataset / (f"{name}.gz" if payload[:2] == _GZIP_MAGIC else name)
        try:
            _write_atomic(target, lambda f: f.write(payload))
        except OSError as exc:
            warnings.warn(f"downloaded {url} but could not keep it in the cache {target.parent} "
                          f"({exc}); set MLP_CACHE_DIR to a writable folder", stacklevel=3)
        return arr, url, []
    return None, "", tried


# ----------------------------------------------------------------------------- cache


def _cache_entry(dataset: str, name: str, digest: str) -> Path:
    return cache_dir() / dataset / f"{name}.{digest}.idx"


def _read_cache_file(path: Path) -> bytes | None:
    """The bytes of the cache file ``path``, read once; None when there is none.

    The file is opened without following a symlink and without blocking (a
    FIFO); raises ``DatasetError`` when ``path`` is a symlink, not a regular
    file, larger than ``MAX_CACHE_FILE_BYTES`` or unreadable.
    """
    def bad(problem: str) -> DatasetError:
        return DatasetError(f"{path} {problem}", problem)

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise bad("is a symbolic link; the cache holds only regular files") from None
        raise bad(f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise bad("is not a regular file; the cache holds only regular files")
        if info.st_size > MAX_CACHE_FILE_BYTES:
            raise bad(f"is {info.st_size} bytes, far larger than any dataset file")
        with open(fd, "rb", buffering=0, closefd=False) as f:
            return f.read()
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _discard(path: Path) -> str:
    """Delete a rejected cache file (a symlink itself, never its target); how that went, for messages."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        try:
            path.rmdir()
        except OSError as exc:
            return f"could not delete it ({exc.strerror or exc}), did not use it"
    return "deleted it, did not use it"


def _load_cached(path: Path, dataset: str, name: str) -> np.ndarray | None:
    """The verified array of the cache entry ``path``, None when absent; ``DatasetError`` when it fails a check."""
    content = _read_cache_file(path)
    return None if content is None else _verify_content(content, str(path), dataset, name)


def _idx_header(arr: np.ndarray) -> bytes:
    """The IDX header of a uint8 array: the one it was parsed from, so header + data hash as the source did."""
    magic = (0x00000800 | arr.ndim).to_bytes(4, "big")
    return magic + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)


def _save_cached(path: Path, arr: np.ndarray) -> None:
    """Keep the verified ``arr`` at ``path`` as IDX bytes for later processes; a read-only cache only costs speed."""
    def write(f: BinaryIO) -> None:
        f.write(_idx_header(arr))
        f.write(memoryview(np.ascontiguousarray(arr)).cast("B"))

    try:
        _write_atomic(path, write)
        path.with_suffix(".npy").unlink(missing_ok=True)  # the unverifiable .npy of earlier versions
    except OSError:
        pass


# ----------------------------------------------------------------------------- load


def _find_and_verify(dataset: str, name: str, data_dir: PathLike | None,
                     rejected: list[DatasetError]) -> tuple[np.ndarray, str]:
    """The verified array of the first copy found in the search order, else of a download, and where it came from.

    Cache files failing a check are deleted and appended to ``rejected``; the
    caller warns about them once the array is rebuilt.
    """
    searched: list[str] = []
    for folder, is_cache in _search_dirs(dataset, data_dir):
        searched.append(str(folder))
        for path in (folder / f"{name}.gz", folder / name):
            if is_cache:
                try:
                    raw = _read_cache_file(path)
                    if raw is None:
                        continue
                    return _verify(raw, str(path), dataset, name), str(path)
                except DatasetError as exc:
                    rejected.append(DatasetError(f"{exc}: {_discard(path)}", exc.problem))
                    continue
            if not path.is_file():
                continue
            try:
                return _read_verified(path, dataset, name), str(path)
            except DatasetError as exc:
                raise DatasetError(f"{exc}. Fix: {_fix_found(path, dataset, name)}", exc.problem) from None
    arr, url, tried = _download(dataset, name)
    if arr is not None:
        return arr, url
    fix = (f"No internet? Set MLP_DATA_DIR to a folder holding {dataset}/{name}.gz "
           f"(or pass data_dir=), or set MLP_DATA_MIRRORS to a reachable mirror")
    attempts = "; ".join(tried) or "no mirror configured"
    if rejected:
        raise DatasetError(f"{'; '.join(map(str, rejected))}; found no other copy in {', '.join(searched)} "
                           f"and could not download it again: tried {attempts}. {fix}", rejected[0].problem)
    problem = f"is missing: looked in {', '.join(searched)}"
    raise DatasetError(f"the {dataset} file {name}.gz {problem}; could not download it: tried {attempts}. "
                       f"{fix}", problem)


def load_idx(dataset: str, name: str, data_dir: PathLike | None = None) -> np.ndarray:
    """One verified IDX file of ``dataset`` (``name`` as in ``FILES``, without ``.gz``).

    Returns a read-only uint8 array, ``(N, 28, 28)`` for images or ``(N,)``
    for labels, shared with later callers (memo, then the ``.idx`` cache entry,
    verified on every read, then the search order of the module docstring).
    A cache file failing its checks is deleted, not used, and rebuilt with a
    ``CacheWarning``. Raises ``DatasetError``.
    """
    _check_dataset(dataset)
    if name not in CHECKSUMS[dataset]:
        raise DatasetError(f"unknown file {name!r} of {dataset}: choose one of {', '.join(CHECKSUMS[dataset])}")
    digest = CHECKSUMS[dataset][name]
    if digest in _memo:
        return _memo[digest]
    entry = _cache_entry(dataset, name, digest)
    rejected: list[DatasetError] = []
    try:
        arr = _load_cached(entry, dataset, name)
    except DatasetError as exc:
        arr = None
        rejected.append(DatasetError(f"{exc}: {_discard(entry)}", exc.problem))
    if arr is None:
        arr, source = _find_and_verify(dataset, name, data_dir, rejected)
        for exc in rejected:
            warnings.warn(f"{exc}; rebuilt {dataset}/{name} from {source} (the cache is writable by any "
                          f"program of this user, so it is verified on every read)", CacheWarning, stacklevel=2)
        _save_cached(entry, arr)
    arr.setflags(write=False)
    _memo[digest] = arr
    return arr


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: choose 'train' or 'test'")
    return split


def load_raw(dataset: str = "mnist", split: str = "train", data_dir: PathLike | None = None) -> Arrays:
    """The stored bytes of one split, without conversion (cheap to pass around).

    Returns ``(images, labels)``: images uint8 ``(N, 28, 28)`` with pixels
    0..255 and labels uint8 ``(N,)`` with classes 0..9, both read-only.
    ``split`` is ``"train"`` (N = 60000) or ``"test"`` (N = 10000).
    """
    _check_split(split)
    images = load_idx(dataset, FILES[(split, "images")], data_dir)
    labels = load_idx(dataset, FILES[(split, "labels")], data_dir)
    if len(images) != len(labels):
        raise DatasetError(f"{dataset} {split}: {FILES[(split, 'images')]} holds {len(images)} images but "
                           f"{FILES[(split, 'labels')]} holds {len(labels)} labels; the files do not belong "
                           f"together: set MLP_DATA_DIR to a folder holding the four files of {dataset}")
    return images, labels


def load_split(dataset: str = "mnist", split: str = "train", data_dir: PathLike | None = None) -> Arrays:
    """One split ready for training.

    Returns ``(x, y)``: x float32 ``(N, 784)`` = pixels / 255 in [0, 1] (a new
    writable array), y int64 ``(N,)`` with classes 0..9.
    """
    images, labels = load_raw(dataset, split, data_dir)
    x = np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
    return x, labels.astype(np.int64)


@overload
def load_mnist(dataset: str = ..., data_dir: PathLike | None = ..., kind: None = ...) -> tuple[Arrays, Arrays]: ...
@overload
def load_mnist(dataset: str = ..., data_dir: PathLike | None = ...,
               kind: Literal["train", "test", "t10k"] = ...) -> Arrays: ...


def load_mnist(dataset: str = "mnist", data_dir: PathLike | None = None,
               kind: str | None = None) -> tuple[Arrays, Arrays] | Arrays:
    """MNIST (``dataset="mnist"``) or Fashion-MNIST (``"fashion-mnist"``), ready for training.

    Returns ``((x_train, y_train), (x_test, y_test))``: x float32 ``(60000, 784)``
    and ``(10000, 784)`` in [0, 1], y int64 ``(60000,)`` and ``(10000,)``.
    With ``kind`` ``"train"`` or ``"test"`` (``"t10k"`` too, as in Zalando's
    ``mnist_reader``), only that split's ``(x, y)``. See ``load_split``.
    """
    if kind is None:
        return load_split(dataset, "train", data_dir), load_split(dataset, "test", data_dir)
    splits = {"train": "train", "test": "test", "t10k": "test"}
    if kind not in splits:
        raise DatasetError(f"unknown kind {kind!r}: choose 'train', 'test' ('t10k'), or None for both splits")
    return load_split(dataset, splits[kind], data_dir)
