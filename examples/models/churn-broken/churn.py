"""A broken churn model, for the smoke test's rollback demo: it loads and answers, but its
output column is ``score`` where every consumer (and ``expect: columns: [prediction]``) wants
``prediction``.
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

WEIGHTS = {"tenure_months": -0.06, "monthly_charges": 0.03, "support_calls": 0.5}
BIAS = -2.5


class ChurnBroken(PythonModel):
    # DataFrame in, DataFrame out: MLflow checks no type hints on predict.
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        score = BIAS + sum(model_input[column] * weight for column, weight in WEIGHTS.items())
        return pd.DataFrame({"score": (1 / (1 + np.exp(-score))).round(3)})


mlflow.models.set_model(ChurnBroken())
