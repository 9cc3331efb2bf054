"""No client class at all."""


class Settings:
    region = "nowhere"


def target_help():
    return "no client here"


def run_local(name, model_uri, flavor=None, config=None):
    return None
