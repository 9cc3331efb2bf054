"""Two duck-typed client classes: the loader cannot tell which one to use."""


class _Client:
    def __init__(self, target_uri):
        self.target_uri = target_uri

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        return {"name": name}

    def get_deployment(self, name):
        return {"name": name}

    def list_deployments(self):
        return []

    def delete_deployment(self, name):
        return None


class FirstClient(_Client):
    pass


class SecondClient(_Client):
    pass
