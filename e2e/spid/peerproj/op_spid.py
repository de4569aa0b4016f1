"""An OpenID provider in the SPID profile (the profile is fixed at import time)."""
from .common import *  # noqa: F401,F403
from .common import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["spid_cie_oidc.provider"]
ROOT_URLCONF = "peerproj.urls_op"
OIDCFED_PROVIDER_PROFILE = "spid"
OIDCFED_DEFAULT_PROVIDER_PROFILE = "spid"
OIDCFED_PROVIDER_SALT = "varco-spid-op-test-salt"
