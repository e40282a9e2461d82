"""pytest plugin for ceph/s3-tests run through Airlock.

s3-tests' "alt" and "tenant" users are principals other than the task's:
their clients go to the server directly (AIRLOCK_S3_DIRECT_ENDPOINT), while
the main user's go to s3-tests' configured endpoint (Airlock). Without the
variable the plugin changes nothing.
"""
import functools
import os
import sys

OTHER_PRINCIPALS = (
    "get_alt_client", "get_tenant_client", "get_v2_tenant_client",
    "get_alt_iam_client", "get_tenant_iam_client",
)


def _direct(fn, endpoint):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from s3tests.functional import config
        saved = config.default_endpoint
        config.default_endpoint = endpoint
        try:
            return fn(*args, **kwargs)
        finally:
            config.default_endpoint = saved
    return wrapper


def pytest_collection_finish(session):
    endpoint = os.environ.get("AIRLOCK_S3_DIRECT_ENDPOINT")
    if not endpoint:
        return
    base = sys.modules.get("s3tests.functional")
    if base is None:
        return
    for name in OTHER_PRINCIPALS:
        original = getattr(base, name, None)
        if original is None:
            continue
        wrapped = _direct(original, endpoint)
        for mod_name, mod in list(sys.modules.items()):
            if mod_name.startswith("s3tests") and getattr(mod, name, None) is original:
                setattr(mod, name, wrapped)
