"""URL map of the trust anchor: everything at the root of its port."""
from django.urls import include, path

urlpatterns = [
    path("", include("spid_cie_oidc.entity.urls")),
    path("", include("spid_cie_oidc.authority.urls")),
]
