"""A client whose constructor fails (as when a cluster cannot be reached)."""


class UnreachableClient:
    def __init__(self, target_uri):
        raise ConnectionError(f"cannot reach the cluster behind {target_uri}\n  (timed out)")

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        raise AssertionError("unreachable")

    def get_deployment(self, name):
        raise AssertionError("unreachable")

    def list_deployments(self):
        raise AssertionError("unreachable")

    def delete_deployment(self, name):
        raise AssertionError("unreachable")
