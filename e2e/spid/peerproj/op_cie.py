"""An OpenID provider in the CIE profile (a separate process from the SPID one)."""
from .common import *  # noqa: F401,F403
from .common import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["spid_cie_oidc.provider"]
ROOT_URLCONF = "peerproj.urls_op"
OIDCFED_PROVIDER_PROFILE = "cie"
OIDCFED_DEFAULT_PROVIDER_PROFILE = "cie"
OIDCFED_PROVIDER_SALT = "varco-cie-op-test-salt"
