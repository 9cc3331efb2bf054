"""A tiny real pyfunc model for the tests that score with MLflow."""

from __future__ import annotations

from pathlib import Path

MODEL_CODE = """
import mlflow
from mlflow.pyfunc import PythonModel


class Multiply(PythonModel):
    # DataFrame in, DataFrame out, unvalidated: without this MLflow warns (at every load) that
    # predict has no type hints, and the hints it would accept change what predict receives.
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        return model_input.assign(y=model_input["x"] * {factor})


mlflow.models.set_model(Multiply())
"""


def save_model(directory: Path, factor: int) -> str:
    """Save a model multiplying column ``x`` by ``factor`` into ``directory``; returns its URI.

    Models-from-code, so a server in another process can load it without this module.
    """
    import mlflow.pyfunc

    code = directory.parent / f"{directory.name}_code.py"
    code.write_text(MODEL_CODE.format(factor=factor), encoding="utf-8")
    mlflow.pyfunc.save_model(str(directory), python_model=str(code))
    return str(directory)
