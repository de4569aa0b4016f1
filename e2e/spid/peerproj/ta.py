"""The trust anchor: entity configuration, fetch, list, resolve, trust_mark_status."""
from .common import *  # noqa: F401,F403
from .common import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["spid_cie_oidc.authority"]
ROOT_URLCONF = "peerproj.urls_ta"
