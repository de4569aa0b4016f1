"""The throwaway relying party of `peers.py selfcheck` (the package's own RP app)."""
import os

from .common import *  # noqa: F401,F403
from .common import INSTALLED_APPS, TRUST_ANCHOR

INSTALLED_APPS = INSTALLED_APPS + ["spid_cie_oidc.relying_party"]
ROOT_URLCONF = "peerproj.urls_rp"
OIDCFED_IDENTITY_PROVIDERS = {
    "spid": {os.environ["VARCO_SPID_OP_SPID"]: TRUST_ANCHOR},
    "cie": {os.environ["VARCO_SPID_OP_CIE"]: TRUST_ANCHOR},
}
# After the callback, land on a JSON page with what the RP stored.
LOGIN_REDIRECT_URL = "/selfcheck/attributes"
