"""URL map of an OP: entity id and endpoints under /oidc/op."""
from django.urls import include, path

urlpatterns = [
    path("oidc/op/", include("spid_cie_oidc.entity.urls")),
    path("", include("spid_cie_oidc.provider.urls")),
]
