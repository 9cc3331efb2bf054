"""A client whose get_deployment needs a parameter deployctl cannot supply."""


class RegionalClient:
    def __init__(self, target_uri):
        self.target_uri = target_uri

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        return {"name": name}

    def get_deployment(self, name, region):
        return {"name": name, "region": region}

    def list_deployments(self):
        return []

    def delete_deployment(self, name):
        return None
