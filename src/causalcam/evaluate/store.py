"""Fingerprints and the resumable on-disk store of evaluation results.

Every result file carries the fingerprint of everything it was computed from (model
weights, method name and options, test images and labels, thresholds, preprocessing).
A file whose fingerprint matches is reused; anything else is recomputed and replaced.
Files are written atomically, so an interrupted run leaves only complete files behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._io import atomic_path, atomic_write_json

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _update_with_tensor(digest: Any, tensor: torch.Tensor) -> None:
    array = tensor.detach().cpu().contiguous()
    digest.update(f"{array.dtype}:{tuple(array.shape)}".encode())
    digest.update(array.view(torch.uint8).numpy().tobytes() if array.numel() else b"")


def tensor_fingerprint(*tensors: torch.Tensor) -> str:
    """SHA-256 (hex, 16 chars) of the dtypes, shapes and bytes of ``tensors``."""
    digest = hashlib.sha256()
    for tensor in tensors:
        _update_with_tensor(digest, tensor.reshape(-1) if tensor.ndim == 0 else tensor)
    return digest.hexdigest()[:16]


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of a model's class and full ``state_dict`` (weights and buffers)."""
    digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        if isinstance(value, torch.Tensor):
            _update_with_tensor(digest, value.reshape(-1) if value.ndim == 0 else value)
    return digest.hexdigest()[:16]


def _stable_repr(cell: Any) -> str | None:
    """``repr`` of a closure cell's value when it is short and holds no memory address."""
    try:
        text = repr(cell.cell_contents)
    except Exception:  # an empty cell or a failing __repr__: not part of the identity
        return None
    return text if len(text) <= 1000 and " at 0x" not in text else None


def callable_identity(fn: Callable[..., Any]) -> dict[str, Any]:
    """A stable description of a map function: its qualified name, the stable reprs of the
    variables its closure captured (e.g. method name and options), for
    :func:`functools.partial` its bound arguments, and a ``fingerprint`` attribute if set."""
    if isinstance(fn, functools.partial):
        return {
            "partial": callable_identity(fn.func),
            "args": [repr(arg) for arg in fn.args],
            "keywords": {key: repr(value) for key, value in sorted(fn.keywords.items())},
        }
    qualname = getattr(fn, "__qualname__", type(fn).__qualname__)
    identity: dict[str, Any] = {"callable": f"{getattr(fn, '__module__', '?')}.{qualname}"}
    cells = getattr(fn, "__closure__", None) or ()
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    captured = {name: _stable_repr(cell) for name, cell in zip(names, cells, strict=False)}
    if any(text is not None for text in captured.values()):
        identity["captured"] = {name: text for name, text in captured.items() if text is not None}
    explicit = getattr(fn, "fingerprint", None)
    if isinstance(explicit, str):
        identity["fingerprint"] = explicit
    return identity


def digest_of(payload: Any) -> str:
    """SHA-256 (hex, 16 chars) of a JSON-serialisable payload with sorted keys."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def safe_name(name: str) -> str:
    """A file-name-safe version of a model or method name."""
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "_"


class ResultStore:
    """Result files under ``root`` (``None``: an in-memory store that keeps nothing on disk)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, tuple[str, Any]] = {}

    def _path(self, kind: str, parts: tuple[str, ...], suffix: str) -> Path:
        assert self.root is not None
        return self.root.joinpath(kind, *(safe_name(part) for part in parts[:-1])) / (
            safe_name(parts[-1]) + suffix
        )

    def load_json(
        self, kind: str, parts: tuple[str, ...], fingerprint: str, *, format: int | None = None
    ) -> Any | None:
        """The stored payload for ``parts`` if its fingerprint (and ``format``, if given)
        matches, else ``None``."""
        key = "/".join((kind, *parts))
        if self.root is None:
            stored = self._memory.get(key)
            return stored[1] if stored and stored[0] == fingerprint else None
        path = self._path(kind, parts, ".json")
        if not path.is_file():
            return None
        try:
            payload = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(payload, dict) or payload.get("fingerprint") != fingerprint:
            return None
        if format is not None and payload.get("format") != format:
            return None
        return payload.get("result")

    def save_json(
        self,
        kind: str,
        parts: tuple[str, ...],
        fingerprint: str,
        result: Any,
        *,
        format: int | None = None,
    ) -> None:
        """Store ``result`` (JSON-serialisable) under ``parts`` with its fingerprint (and
        the ``format`` of its layout, if given), atomically."""
        key = "/".join((kind, *parts))
        if self.root is None:
            self._memory[key] = (fingerprint, result)
            return
        stored = {"fingerprint": fingerprint, "result": result}
        if format is not None:
            stored = {"fingerprint": fingerprint, "format": format, "result": result}
        atomic_write_json(self._path(kind, parts, ".json"), stored)

    def load_tensors(
        self, kind: str, parts: tuple[str, ...], fingerprint: str
    ) -> dict[str, torch.Tensor] | None:
        """Stored tensors for ``parts`` if their fingerprint matches (loaded weights-only)."""
        if self.root is None:
            stored = self._memory.get("/".join((kind, *parts)))
            return stored[1] if stored and stored[0] == fingerprint else None
        path = self._path(kind, parts, ".pt")
        if not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a corrupt cache entry is recomputed, never trusted
            return None
        if not isinstance(payload, dict) or payload.get("fingerprint") != fingerprint:
            return None
        tensors = payload.get("tensors")
        return tensors if isinstance(tensors, dict) else None

    def save_tensors(
        self, kind: str, parts: tuple[str, ...], fingerprint: str, tensors: Mapping[str, Any]
    ) -> None:
        """Store tensors under ``parts`` with their fingerprint, atomically."""
        if self.root is None:
            self._memory["/".join((kind, *parts))] = (fingerprint, dict(tensors))
            return
        with atomic_path(self._path(kind, parts, ".pt")) as temp:
            torch.save({"fingerprint": fingerprint, "tensors": dict(tensors)}, temp)


def pack_bool_rows(matrix: np.ndarray) -> list[str]:
    """Boolean ``(T, B)`` matrix -> one '0'/'1' string per row (compact JSON)."""
    return ["".join("1" if value else "0" for value in row) for row in matrix]


def unpack_bool_rows(rows: list[str]) -> np.ndarray:
    """Inverse of :func:`pack_bool_rows`."""
    return np.array([[char == "1" for char in row] for row in rows], dtype=bool).reshape(
        len(rows), -1
    )
