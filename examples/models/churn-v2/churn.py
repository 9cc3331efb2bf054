"""Churn model, version 2: new weights, and the probability besides.

Input columns: tenure_months, monthly_charges, support_calls (others are ignored).
Output: ``prediction`` (1 = likely to churn, 0 = not) and ``probability``, one row per input row.
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

WEIGHTS = {"tenure_months": -0.06, "monthly_charges": 0.03, "support_calls": 0.5}
BIAS = -2.5
THRESHOLD = 0.5


class ChurnV2(PythonModel):
    # DataFrame in, DataFrame out: MLflow checks no type hints on predict.
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        score = BIAS + sum(model_input[column] * weight for column, weight in WEIGHTS.items())
        probability = 1 / (1 + np.exp(-score))
        return pd.DataFrame(
            {
                "prediction": (probability >= THRESHOLD).astype(int),
                "probability": probability.round(3),
            }
        )


mlflow.models.set_model(ChurnV2())
