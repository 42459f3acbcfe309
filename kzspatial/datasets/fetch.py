"""Data registry and cached, checksum-verified fetching of the public source files.

The registry (``geodata/registry.toml``) pins every file by URL and SHA-256 together with its
licence, citation, statistical concept and unit. :func:`fetch` returns a local path:

1. a cached copy under :func:`cache_dir` whose SHA-256 matches is used as is;
2. otherwise, when ``KZSPATIAL_DATA_MIRROR`` is set, the file is copied from
   ``<mirror>/<URL without "https://", percent-decoded>``;
3. otherwise it is downloaded from its URL (pooch).

A cached file whose checksum does not match is never used: it is fetched again, and a
fetched file that fails the checksum raises :class:`~kzspatial._errors.DataFetchError`.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from kzspatial._errors import DataFetchError

__all__ = [
    "CACHE_ENV",
    "MIRROR_ENV",
    "DataFile",
    "cache_dir",
    "fetch",
    "registry",
    "registry_path",
]

logger = logging.getLogger("kzspatial")

CACHE_ENV = "KZSPATIAL_CACHE"
MIRROR_ENV = "KZSPATIAL_DATA_MIRROR"


@dataclass(frozen=True)
class DataFile:
    """One registered file with the metadata of its dataset."""

    key: str
    dataset: str
    url: str
    sha256: str
    title: str
    licence: str
    citation: str
    attribution: str
    concept: str
    unit: str
    defects: str

    @property
    def relative_path(self) -> str:
        """Path of the file inside a mirror or the cache (URL without scheme, decoded)."""
        return urllib.parse.unquote(self.url.split("://", 1)[1])


def registry_path() -> Path:
    """Location of ``registry.toml`` (in the wheel, or ``geodata/`` in a source checkout)."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (
        package / "_geodata" / "registry.toml",
        package.parent / "geodata" / "registry.toml",
    ):
        if candidate.is_file():
            return candidate
    raise DataFetchError(
        f"kzspatial data registry not found next to {package}; reinstall kzspatial"
    )


@functools.cache
def registry() -> dict[str, DataFile]:
    """All registered files, by key."""
    with registry_path().open("rb") as fh:
        raw = tomllib.load(fh)
    datasets = raw["datasets"]
    fields = (
        "title",
        "licence",
        "citation",
        "attribution",
        "concept",
        "unit",
        "defects",
    )
    return {
        key: DataFile(
            key=key,
            dataset=entry["dataset"],
            url=entry["url"],
            sha256=entry["sha256"],
            **{f: datasets[entry["dataset"]].get(f, "") for f in fields},
        )
        for key, entry in raw["files"].items()
    }


def cache_dir() -> Path:
    """Cache folder: ``$KZSPATIAL_CACHE`` or the platform's user cache for kzspatial."""
    env = os.environ.get(CACHE_ENV)
    return (
        Path(env).expanduser()
        if env
        else Path(platformdirs.user_cache_dir("kzspatial"))
    )


def _mirror_downloader(mirror: Path):
    def copy_from_mirror(url: str, output_file: str, _pooch: object, check_only=False):
        source = mirror / urllib.parse.unquote(url.split("://", 1)[1])
        if check_only:
            return source.is_file()
        if not source.is_file():
            raise FileNotFoundError(str(source))
        logger.info("copying %s from the data mirror into %s", source.name, output_file)
        shutil.copyfile(source, output_file)
        return None

    return copy_from_mirror


def fetch(key: str) -> Path:
    """Local path of the registered file ``key``, fetching and verifying it if needed.

    Parameters
    ----------
    key : str
        Registry key, e.g. ``"od_interregional.csv"`` or ``"kaz_admbnda_adm1_2024.shp"``.
        For a shapefile, every registered sidecar (``.shx``, ``.dbf``, ``.prj``, ``.cpg``) is
        fetched too.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataFetchError
        Unknown key, file missing from the mirror, network failure or checksum mismatch; the
        message names the URL, the cache path and the environment variables.
    """
    files = registry()
    if key not in files:
        raise DataFetchError(
            f"{key!r} is not in the kzspatial data registry "
            f"({registry_path()}); known keys: {sorted(files)}"
        )
    if key.endswith(".shp"):
        stem = key[:-4]
        for sidecar in (k for k in files if k.startswith(stem + ".") and k != key):
            _fetch_one(files[sidecar])
    return _fetch_one(files[key])


def _fetch_one(entry: DataFile) -> Path:
    # imported here: a run whose study data come from their cache fetches nothing, and
    # pooch (with requests) is a tenth of a second of its start-up
    import pooch

    target = cache_dir() / entry.relative_path
    pooch.get_logger().setLevel(
        logging.WARNING
    )  # we log where the file came from ourselves
    mirror = os.environ.get(MIRROR_ENV)
    downloader = _mirror_downloader(Path(mirror).expanduser()) if mirror else None
    where = (
        f"the mirror {MIRROR_ENV}={mirror}"
        if mirror
        else f"the network (set {MIRROR_ENV} to use a local mirror)"
    )
    try:
        path = pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            downloader=downloader,
            progressbar=False,
        )
    except ValueError as exc:  # pooch's checksum mismatch
        raise DataFetchError(
            f"checksum mismatch for {entry.url} fetched from {where} into {target}: "
            f"{exc}. The file was not used; check the mirror copy or delete the cache "
            f"folder ({CACHE_ENV}={cache_dir()}) and retry"
        ) from exc
    except OSError as exc:
        problem = _cache_problem(exc, target)
        if problem is None:
            raise _unreachable(entry, where, target, exc) from exc
        raise DataFetchError(
            f"could not write {entry.url} into the cache {target}: {problem} "
            f"({exc.strerror or exc}). The source ({where}) is not at fault; set "
            f"{CACHE_ENV} to a writable folder with free space, or free space in "
            f"{cache_dir()}"
        ) from exc
    except Exception as exc:  # missing mirror file, HTTP error, no network
        raise _unreachable(entry, where, target, exc) from exc
    return Path(path)


_CACHE_ERRNOS = {
    errno.EROFS: "the cache is on a read-only file system",
    errno.EACCES: "the cache folder is not writable (permission denied)",
    errno.EPERM: "the cache folder is not writable (operation not permitted)",
    errno.ENOSPC: "the disk holding the cache is full (no space left on device)",
    errno.EDQUOT: "the disk quota of the cache is exceeded",
}


def _cache_problem(exc: OSError, target: Path) -> str | None:
    """Say what is wrong with the cache when ``exc`` came from writing it, else None.

    A full disk is always the cache's (fetching only writes there); permission errors
    are the cache's when they name a path inside it (a mirror file may be unreadable).
    """
    problem = _CACHE_ERRNOS.get(exc.errno)
    if problem is None:
        return None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or exc.filename is None:
        return problem
    cache = cache_dir().resolve()
    written = Path(exc.filename).resolve()
    inside = written == cache or cache in written.parents
    return problem if inside or written.parent == target.parent.resolve() else None


def _unreachable(
    entry: DataFile, where: str, target: Path, exc: Exception
) -> DataFetchError:
    """Build the error for a source (mirror or network) that did not deliver the file."""
    return DataFetchError(
        f"could not fetch {entry.url} from {where} into cache {target} "
        f"({type(exc).__name__}: {exc}). Set {MIRROR_ENV} to a folder laid out as "
        "<mirror>/<URL without https://>, or check the network; the cache folder is "
        f"{CACHE_ENV}={cache_dir()}"
    )
