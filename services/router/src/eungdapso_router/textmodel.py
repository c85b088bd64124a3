"""The classifier's model: weighted terms (morphology.py) and a softmax regression over them,
trained in numpy, saved as one small JSON artefact.

Why this model: a linear model over named terms explains itself (a decision's evidence is
the terms that pushed it, with their weight), trains in seconds on the repo's examples, and
classifies in well under a millisecond. Training is deterministic (fixed order, zero start,
fixed number of steps), so the artefact checked in is exactly what its data produce.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eungdapso_router.morphology import (
    CONTENT_TAGS,
    ENDING_TAGS,
    STYLE_WORDS,
    Morphology,
    Token,
    char_ngrams,
    normalize,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A term's group is its prefix; each group has its own weight in the vector.
GROUPS = ("m", "b", "c", "e", "k")


@dataclass(frozen=True)
class FeatureConfig:
    """How text becomes a vector and how hard the model is regularised. Chosen by
    cross-validation on the training data only (`python -m eungdapso_router.classifier cv`)."""

    group_weights: Mapping[str, float] = field(
        default_factory=lambda: {"m": 1.0, "b": 0.6, "c": 0.6, "e": 0.5, "k": 0.8}
    )
    char_sizes: tuple[int, ...] = (2, 3)
    min_df: int = 1
    l2: float = 5e-5
    steps: int = 500
    #: Weights smaller than this are left out of the artefact (they never decide anything).
    prune: float = 0.02

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "group_weights": dict(self.group_weights),
            "char_sizes": list(self.char_sizes),
        }


@dataclass(frozen=True)
class Analysis:
    """A text read once: normalised, cut by kiwi, with the slang that was expanded."""

    text: str
    tokens: tuple[Token, ...]
    slang: tuple[str, ...]

    @classmethod
    def of(cls, morphology: Morphology, raw: str) -> Analysis:
        text, slang = normalize(raw)
        return cls(text, tuple(morphology.tokens(text)), slang)

    def subject_terms(self, config: FeatureConfig, span: tuple[int, int] | None = None) -> Counter[str]:
        """What the text is about: content morphemes but the words every complaint uses
        (STYLE_WORDS), their neighbours, and character n-grams of those words only
        (particles and endings say nothing about the subject)."""
        start, end = span if span is not None else (0, len(self.text))
        content = [
            t
            for t in self.tokens
            if t.start >= start and t.end <= end and t.tag in CONTENT_TAGS and t.form not in STYLE_WORDS
        ]
        terms: Counter[str] = Counter(f"m:{t.form}" for t in content)
        terms.update(f"b:{a.form}_{b.form}" for a, b in pairwise(content))
        chars = [" "] * (end - start)
        for t in content:
            chars[t.start - start : t.end - start] = self.text[t.start : t.end]
        for chunk in "".join(chars).split():
            terms.update(f"c:{g}" for g in char_ngrams(chunk, config.char_sizes))
        return terms

    def class_terms(self, kind: str | None) -> Counter[str]:
        """How the text asks: every content word (style words included), sentence endings,
        a question mark, and the kind the citizen registered."""
        terms: Counter[str] = Counter(f"m:{t.form}" for t in self.tokens if t.tag in CONTENT_TAGS)
        terms.update(f"e:{t.form}" for t in self.tokens if t.tag in ENDING_TAGS)
        if "?" in self.text:
            terms["e:?"] += 1
        if kind is not None:
            terms[f"k:{kind}"] += 1
        return terms


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix (CSR): what numpy lacks and scipy would be a dependency for."""

    indptr: IntArray
    indices: IntArray
    values: FloatArray
    n_features: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def row_ids(self) -> IntArray:
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))

    def dot(self, weights: FloatArray) -> FloatArray:
        """rows @ weights, for weights (n_features, k)."""
        out = np.zeros((self.n_rows, weights.shape[1]))
        if len(self.indices) == 0:
            return out
        products = weights[self.indices] * self.values[:, None]
        nonempty = np.diff(self.indptr) > 0
        out[nonempty] = np.add.reduceat(products, self.indptr[:-1][nonempty], axis=0)
        return out


class Vectorizer:
    """Terms → a tf-idf vector: sublinear counts, idf from the training texts, a weight per
    term group, unit length."""

    def __init__(self, vocabulary: Sequence[str], idf: Sequence[float], config: FeatureConfig) -> None:
        self.vocabulary = tuple(vocabulary)
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.config = config
        self._group_weight = np.array([config.group_weights[t[0]] for t in self.vocabulary], dtype=np.float64)

    @classmethod
    def fit(cls, documents: Sequence[Counter[str]], config: FeatureConfig) -> Vectorizer:
        df: Counter[str] = Counter()
        for terms in documents:
            df.update(terms.keys())
        # Kind terms are kept whatever their count: the kind is never a typo.
        vocabulary = sorted(t for t, n in df.items() if n >= config.min_df or t.startswith("k:"))
        n = len(documents)
        idf = [round(math.log((1 + n) / (1 + df[t])) + 1.0, 4) for t in vocabulary]
        return cls(vocabulary, idf, config)

    def vector(self, terms: Counter[str]) -> tuple[IntArray, FloatArray]:
        pairs = sorted((self.index[t], c) for t, c in terms.items() if t in self.index)
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=len(pairs))
        tf = np.fromiter((1.0 + math.log(c) for _, c in pairs), dtype=np.float64, count=len(pairs))
        values = tf * self.idf[idx] * self._group_weight[idx]
        norm = float(np.sqrt(values @ values))
        return idx, values / norm if norm > 0 else values

    def rows(self, documents: Iterable[Counter[str]]) -> SparseRows:
        indptr = [0]
        all_idx: list[IntArray] = []
        all_val: list[FloatArray] = []
        for terms in documents:
            idx, val = self.vector(terms)
            all_idx.append(idx)
            all_val.append(val)
            indptr.append(indptr[-1] + len(idx))
        return SparseRows(
            np.asarray(indptr, dtype=np.int64),
            np.concatenate(all_idx) if all_idx else np.zeros(0, dtype=np.int64),
            np.concatenate(all_val) if all_val else np.zeros(0),
            len(self.vocabulary),
        )


def softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def fit_softmax(
    x: SparseRows, y: IntArray, n_classes: int, *, l2: float, steps: int
) -> tuple[FloatArray, FloatArray]:
    """Multinomial logistic regression, L2-regularised, by Nesterov's accelerated gradient
    from zero with the fixed step 1/L (rows have unit length, so L <= 1 + l2): deterministic."""
    n = x.n_rows
    rows = x.row_ids()
    order = np.argsort(x.indices, kind="stable")
    by_feature_rows = rows[order]
    by_feature_values = x.values[order]
    starts = np.searchsorted(x.indices[order], np.arange(x.n_features))
    present = np.bincount(x.indices, minlength=x.n_features) > 0
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    step = 1.0 / (1.0 + l2)
    w = np.zeros((x.n_features, n_classes))
    b = np.zeros(n_classes)
    w_prev, b_prev = w.copy(), b.copy()
    for k in range(1, steps + 1):
        momentum = (k - 1) / (k + 2)
        w_look = w + momentum * (w - w_prev)
        b_look = b + momentum * (b - b_prev)
        g = (softmax(x.dot(w_look) + b_look) - onehot) / n
        grad_w = l2 * w_look
        products = g[by_feature_rows] * by_feature_values[:, None]
        grad_w[present] += np.add.reduceat(products, starts[present], axis=0)
        w_prev, b_prev = w, b
        w = w_look - step * grad_w
        b = b_look - step * g.sum(axis=0)
    return w, b


@dataclass
class LinearModel:
    """Weights (features × labels) and biases of one softmax regression."""

    labels: tuple[str, ...]
    weights: FloatArray
    bias: FloatArray

    def probabilities(self, idx: IntArray, values: FloatArray) -> FloatArray:
        scores = values @ self.weights[idx] + self.bias if len(idx) else self.bias.copy()
        out: FloatArray = softmax(scores)
        return out

    def contributions(self, idx: IntArray, values: FloatArray, label: int) -> list[tuple[int, float]]:
        """Each present feature's push towards `label`, strongest first."""
        push = values * self.weights[idx, label]
        order = np.argsort(-push, kind="stable")
        return [(int(idx[i]), float(push[i])) for i in order if push[i] > 0]

    def to_json(self, prune: float) -> dict[str, Any]:
        """Sparse: the weights that matter (|w| >= prune) as (feature, label, weight) arrays,
        little-endian and base64'd: a megabyte of JSON numbers would take a second to parse."""
        rows, cols = np.nonzero(np.abs(self.weights) >= prune)
        return {
            "labels": list(self.labels),
            "bias": [round(float(v), 4) for v in self.bias],
            "features": _pack(rows.astype("<u4")),
            "label_of": _pack(cols.astype("<u1")),
            "weight": _pack(self.weights[rows, cols].astype("<f4")),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], n_features: int) -> LinearModel:
        labels = tuple(data["labels"])
        weights = np.zeros((n_features, len(labels)))
        rows = _unpack(data["features"], "<u4").astype(np.int64)
        cols = _unpack(data["label_of"], "<u1").astype(np.int64)
        weights[rows, cols] = _unpack(data["weight"], "<f4")
        return cls(labels, weights, np.asarray(data["bias"], dtype=np.float64))


def _pack(array: npt.NDArray[Any]) -> str:
    return base64.b64encode(array.tobytes()).decode("ascii")


def _unpack(text: str, dtype: str) -> npt.NDArray[Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def digest(paths: Iterable[Path], extra: Mapping[str, Any]) -> str:
    """What an artefact was built from: the training files' bytes, the feature configuration
    and the label sets. The drift test compares it with the artefact's."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(json.dumps(extra, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def write_artefact(path: Path, content: Mapping[str, Any]) -> None:
    """gzip'd JSON without a timestamp, keys sorted: the same model writes the same bytes."""
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a JSON-lines data file, with their line number for error messages."""
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.strip():
            yield n, json.loads(line)


def read_artefact(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data
