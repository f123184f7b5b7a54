"""The model artefact: a folder of plain files with a manifest of SHA-256 digests.

Why not pickle: loading a pickle runs code chosen by whoever wrote the file,
and model folders travel between teams and machines. Here a model is

* ``scorecard.json`` (bins, WoE, coefficients) or ``gbm.json`` plus
  ``gbm_model.txt`` (LightGBM's own text format);
* ``manifest.json``: the format name and version, the creditdesk version that
  wrote it, the model type, the feature schema, the score scaling, and the
  SHA-256 of every other file in the folder that belongs to the model.

:func:`load_model` refuses a folder whose manifest is missing, of an unknown
format or version, or whose files do not match their digests, naming the file.

>>> import tempfile, numpy as np, pandas as pd
>>> from creditdesk.risk.scorecard import ScorecardModel
>>> from creditdesk.risk.data import FeatureSchema
>>> rng = np.random.default_rng(0); x = rng.normal(size=500)
>>> X = pd.DataFrame({"x": x}); y = (rng.random(500) < 1 / (1 + np.exp(2 * x))).astype(int)
>>> model = ScorecardModel().fit(X, y)
>>> folder = tempfile.mkdtemp()
>>> _ = save_model(folder, model, FeatureSchema(target="bad", numeric=["x"]))
>>> load_model(folder).model_type
'scorecard'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from creditdesk import __version__
from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.risk.data import FeatureSchema
from creditdesk.risk.gbm import GBMModel
from creditdesk.risk.scorecard import ScorecardModel, ScoreScaling

__all__ = ["FORMAT", "FORMAT_VERSION", "ArtifactError", "ModelBundle", "load_model",
           "read_json", "read_manifest", "save_model", "sha256_file", "write_json",
           "write_manifest"]

FORMAT = "creditdesk-risk-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class ArtifactError(BadInputError):
    """A model folder that is missing, tampered with, or of an unknown format."""


@dataclass
class ModelBundle:
    """A fitted model with what is needed to use it on raw data."""

    model: ScorecardModel | GBMModel
    schema: FeatureSchema
    scaling: ScoreScaling = field(default_factory=ScoreScaling)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def model_type(self) -> str:
        """'scorecard' or 'gbm'."""
        return "scorecard" if isinstance(self.model, ScorecardModel) else "gbm"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as sorted, indented UTF-8 JSON (NumPy scalars and arrays allowed)."""
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True,
                               default=_json_default), encoding="utf-8")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_model(folder: str | Path, model: ScorecardModel | GBMModel, schema: FeatureSchema, *,
               scaling: ScoreScaling | None = None, extra_files: list[str] | None = None,
               info: dict[str, Any] | None = None) -> Path:
    """Write the model files and, last, the manifest with their digests.

    ``extra_files`` (names inside ``folder`` already written, such as
    metrics.json and report.html) are digested too, so any edit is detected.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ScorecardModel):
        model_type = "scorecard"
        files = ["scorecard.json"]
        write_json(out / "scorecard.json", model.to_state())
        scale = model.scaling
    elif isinstance(model, GBMModel):
        model_type = "gbm"
        files = ["gbm.json", "gbm_model.txt"]
        meta, text = model.to_state()
        write_json(out / "gbm.json", meta)
        (out / "gbm_model.txt").write_text(text, encoding="utf-8")
        scale = scaling or ScoreScaling()
    else:
        raise BadInputError(f"model must be a ScorecardModel or GBMModel; got "
                            f"{type(model).__name__}", field="model")
    write_manifest(out, [*files, *(extra_files or [])], {
        "model_type": model_type, "schema": schema.to_dict(),
        "scaling": {"pdo": scale.pdo, "base_score": scale.base_score,
                    "base_odds": scale.base_odds},
        "info": info or {}})
    return out


def write_manifest(folder: str | Path, files: list[str], fields: dict[str, Any], *,
                   fmt: str = FORMAT, version: int = FORMAT_VERSION) -> dict[str, Any]:
    """Write ``manifest.json`` last: format, version, writer, ``fields``, and file digests.

    Other model families (e.g. :mod:`creditdesk.collections.scores`) write their own
    files and then call this with their own ``fmt``, so :func:`read_manifest` checks
    them the same way and a folder of one family is never read as another.
    """
    out = Path(folder)
    for name in files:
        if not (out / name).is_file():
            raise NotFoundError(f"file to include in the model folder not found: {out / name}")
    manifest = {
        **fields,  # first: they cannot overwrite the keys below
        "format": fmt, "format_version": version, "creditdesk_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {name: sha256_file(out / name) for name in files},
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def read_json(path: Path) -> Any:
    """Parsed JSON, or an :class:`ArtifactError` naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path.name} in {path.parent} is not valid JSON: {exc}",
                            field=path.name) from exc


def read_manifest(folder: str | Path, *, fmt: str = FORMAT,
                  version: int = FORMAT_VERSION) -> dict[str, Any]:
    """The manifest, after checking its format (``fmt``), version and every file digest."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFoundError(f"model folder not found: {root}")
    path = root / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{root} is not a creditdesk model folder: {MANIFEST} is missing",
                            field=MANIFEST)
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArtifactError(f"manifest format must be {fmt!r}; got {got!r}", field="format",
                            value=got)
    found = manifest.get("format_version")
    if found != version:
        raise ArtifactError(f"model format version {found!r} is not supported (this creditdesk "
                            f"{__version__} reads version {version})",
                            field="format_version", value=found)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactError("manifest lists no files", field="files")
    for name, digest in files.items():
        target = (root / name).resolve()
        if target.parent != root.resolve():
            raise ArtifactError(f"manifest names a file outside the model folder: {name!r}",
                                field="files", value=name)
        if not target.is_file():
            raise ArtifactError(f"model file {name} listed in the manifest is missing",
                                field=name)
        actual = sha256_file(target)
        if actual != digest:
            raise ArtifactError(f"model file {name} does not match its SHA-256 in the manifest "
                                "(changed after training?); refusing to load", field=name,
                                value=actual)
    return manifest


def load_model(folder: str | Path) -> ModelBundle:
    """Verify a model folder and rebuild the model; no code from the folder is run."""
    root = Path(folder)
    manifest = read_manifest(root)
    schema = FeatureSchema.from_dict(manifest["schema"])
    try:
        scaling = ScoreScaling(**manifest["scaling"])
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"manifest scaling is not valid: {exc}", field="scaling") from exc
    kind = manifest.get("model_type")
    model: ScorecardModel | GBMModel
    if kind == "scorecard":
        model = ScorecardModel.from_state(read_json(root / "scorecard.json"))
    elif kind == "gbm":
        text = (root / "gbm_model.txt").read_text(encoding="utf-8")
        model = GBMModel.from_state(read_json(root / "gbm.json"), text)
    else:
        raise ArtifactError(f"model_type must be 'scorecard' or 'gbm'; got {kind!r}",
                            field="model_type", value=kind)
    return ModelBundle(model=model, schema=schema, scaling=scaling, manifest=manifest)
