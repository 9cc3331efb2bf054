"""Two BaseDeploymentClient subclasses: MLflow's loader (and deployctl's) refuse it."""

from mlflow.deployments import BaseDeploymentClient


class _Client(BaseDeploymentClient):
    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        return {"name": name}

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        return None

    def delete_deployment(self, name, config=None, endpoint=None):
        return None

    def list_deployments(self, endpoint=None):
        return []

    def get_deployment(self, name, endpoint=None):
        return {"name": name}


class EastClient(_Client):
    pass


def run_local(name, model_uri, flavor=None, config=None):
    return None


def target_help():
    return "two clients"
