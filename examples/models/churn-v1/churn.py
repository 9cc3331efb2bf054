"""Churn model, version 1: a hand-set logistic score of the customer's columns.

Input columns: tenure_months, monthly_charges, support_calls (others are ignored).
Output: one column, ``prediction`` (1 = likely to churn, 0 = not), one row per input row.
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

WEIGHTS = {"tenure_months": -0.08, "monthly_charges": 0.03, "support_calls": 0.6}
BIAS = -2.0
THRESHOLD = 0.5


class ChurnV1(PythonModel):
    # DataFrame in, DataFrame out: MLflow checks no type hints on predict.
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        score = BIAS + sum(model_input[column] * weight for column, weight in WEIGHTS.items())
        probability = 1 / (1 + np.exp(-score))
        return pd.DataFrame({"prediction": (probability >= THRESHOLD).astype(int)})


mlflow.models.set_model(ChurnV1())
