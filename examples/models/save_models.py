"""Save the example models in MLflow's format, as plain text.

Run ``python examples/models/save_models.py`` after editing a model's ``churn.py``.

Each model is models-from-code: its ``churn.py`` (in the model's own folder, the file to edit)
defines the model and calls ``mlflow.models.set_model``; nothing is pickled. This script saves
each folder's ``churn.py`` again with ``mlflow.pyfunc.save_model`` and writes back the files
MLflow makes (``MLmodel``, ``requirements.txt``, ``python_env.yaml``, ``conda.yaml``), with the
code path in ``MLmodel`` made relative (MLflow loads the code by its file name from the model's
folder, so the folder can move), then checks that no file of a model is a pickle.

Needs ``pip install 'deployctl[mlflow]'``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("churn-v1", "churn-v2", "churn-broken")
CODE = "churn.py"
MADE_BY_MLFLOW = ("MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml")
# Loose pins: the models use pandas and numpy only, through MLflow's pyfunc interface.
REQUIREMENTS = ["mlflow-skinny>=3.17,<4", "pandas>=2.0", "numpy>=1.24"]
# The first byte of every pickle protocol 2+ stream, and the names pickles are saved under.
PICKLE_MAGIC = b"\x80"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle")


def save(folder: Path) -> None:
    import mlflow.pyfunc
    import yaml

    with tempfile.TemporaryDirectory() as scratch:
        code = Path(scratch) / CODE
        shutil.copyfile(folder / CODE, code)
        saved = Path(scratch) / "model"
        mlflow.pyfunc.save_model(str(saved), python_model=str(code), pip_requirements=REQUIREMENTS)
        mlmodel = yaml.safe_load((saved / "MLmodel").read_text(encoding="utf-8"))
        mlmodel["flavors"]["python_function"]["model_code_path"] = CODE
        (saved / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=True), encoding="utf-8")
        for name in MADE_BY_MLFLOW:
            shutil.copyfile(saved / name, folder / name)
        extra = sorted({p.name for p in saved.iterdir()} - {*MADE_BY_MLFLOW, CODE})
        if extra:
            sys.exit(f"{folder.name}: MLflow wrote files this script does not copy: {extra}")


def pickles(folder: Path) -> list[Path]:
    """The files under ``folder`` that are (or are named as) pickles."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as file:
            if path.suffix in PICKLE_SUFFIXES or file.read(1) == PICKLE_MAGIC:
                found.append(path)
    return found


def main() -> None:
    for name in MODELS:
        save(HERE / name)
        found = pickles(HERE / name)
        if found:
            sys.exit(f"{name}: pickles are not allowed in the examples: {found}")
        print(f"saved {HERE / name}")


if __name__ == "__main__":
    main()
