"""URL map of the self-check RP: entity id at the root, RP views under /oidc/rp."""
from django.http import JsonResponse
from django.urls import include, path


def attributes(request):
    """What the RP stored after a successful callback (its session), as JSON."""
    return JsonResponse(
        {
            "authenticated": request.user.is_authenticated,
            "attributes": request.session.get("oidc_rp_user_attrs", {}),
        }
    )


urlpatterns = [
    path("", include("spid_cie_oidc.entity.urls")),
    path("", include("spid_cie_oidc.relying_party.urls")),
    path("selfcheck/attributes", attributes),
]
