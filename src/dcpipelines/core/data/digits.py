"""The UCI handwritten digits bundled inside scikit-learn, as a flat table."""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_digits

PIXELS = 64


def load_digits_table() -> pd.DataFrame:
    """1,797 8x8 digits: ``sample_id``, ``label`` and ``pixel_0 .. pixel_63`` scaled to [0, 1]."""
    bunch = load_digits()
    frame = pd.DataFrame(bunch.data / 16.0, columns=[f"pixel_{i}" for i in range(PIXELS)])
    frame.insert(0, "label", bunch.target.astype("int64"))
    frame.insert(0, "sample_id", range(len(frame)))
    frame["sample_id"] = frame["sample_id"].astype("int64")
    return frame
