"""Seeds one peer's database through the Django ORM (run by peers.py).

Usage (the launcher sets DJANGO_SETTINGS_MODULE and the VARCO_SPID_* vars):
    python seed.py ta|op|rp < plan.json > result.json

The plan is a JSON object built by peers.py (entity ids, keys, users, trust
marks). The result is one JSON object on stdout; logs go to stderr.
"""
import json
import sys

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from spid_cie_oidc.entity.models import FederationEntityConfiguration  # noqa: E402

ALGS_SIG = ["RS256", "RS512"]
ALGS_ENC = ["RSA-OAEP", "RSA-OAEP-256"]
ENCS = ["A128CBC-HS256", "A256CBC-HS512"]
ACRS = [
    "https://www.spid.gov.it/SpidL1",
    "https://www.spid.gov.it/SpidL2",
    "https://www.spid.gov.it/SpidL3",
]
FISCAL = "https://attributes.eid.gov.it/fiscal_number"


def federation_entity_md(name: str, base: str, resolve: str) -> dict:
    """The `federation_entity` metadata every member publishes."""
    return {
        "organization_name": name,
        "homepage_uri": base,
        "policy_uri": f"{base}/policy",
        "logo_uri": f"{base}/static/logo.svg",
        "contacts": ["test@pec.varco.invalid"],
        "federation_resolve_endpoint": resolve,
    }


def save_entity(**fields) -> FederationEntityConfiguration:
    """Creates or replaces the entity configuration for `sub`, validated."""
    FederationEntityConfiguration.objects.filter(sub=fields["sub"]).delete()
    ec = FederationEntityConfiguration(is_active=True, **fields)
    ec.full_clean()  # runs the package's own metadata/key validators
    ec.save()
    return ec


def seed_ta(plan: dict) -> dict:
    # only the trust anchor has the authority app installed
    from spid_cie_oidc.authority.models import (
        FederationDescendant,
        FederationEntityAssignedProfile,
        FederationEntityProfile,
    )

    ta = plan["ta"]
    sub = ta["entity_id"]
    ec = save_entity(
        sub=sub,
        entity_type="federation_entity",
        jwks_fed=[ta["fed_key"]],
        jwks_core=[ta["core_key"]],
        metadata={
            "federation_entity": {
                **federation_entity_md("Varco test trust anchor", sub, f"{sub}/resolve"),
                "federation_fetch_endpoint": f"{sub}/fetch",
                "federation_list_endpoint": f"{sub}/list",
                "federation_trust_mark_status_endpoint": f"{sub}/trust_mark_status",
            }
        },
        trust_mark_issuers={
            plan["rp_trust_mark_id"]: [sub],
            plan["op_trust_mark_id"]: [sub],
        },
        constraints={"max_path_length": 1},
    )

    profiles = {}
    for kind, tm_id, name in (
        ("openid_relying_party", plan["rp_trust_mark_id"], "Varco test RP"),
        ("openid_provider", plan["op_trust_mark_id"], "Varco test OP"),
    ):
        FederationEntityProfile.objects.filter(profile_id=tm_id).delete()
        profiles[kind] = FederationEntityProfile.objects.create(
            name=name,
            profile_category=kind,
            profile_id=tm_id,
            trust_mark_template={"organization_type": "public", "ref": f"{sub}/policy"},
        )

    trust_marks = {}
    for d in plan["descendants"]:
        FederationDescendant.objects.filter(sub=d["sub"]).delete()
        desc = FederationDescendant(
            sub=d["sub"],
            name=d["name"][:33],
            type=d["type"],
            jwks=d["jwks"],
            status="valid",
            is_active=True,
        )
        # full_clean() would fetch the descendant's entity configuration,
        # which is not served yet: validate only the key list.
        desc.clean_fields(exclude=["sub", "registrant"])
        desc.save()
        assigned = FederationEntityAssignedProfile.objects.create(
            descendant=desc, profile=profiles[d["type"]], issuer=ec
        )
        trust_marks[d["sub"]] = assigned.trust_mark
    return {"public_jwks": ec.public_jwks, "trust_marks": trust_marks}


def op_metadata(plan: dict, profile: str) -> dict:
    op = plan["op"]
    sub = op["entity_id"]
    md = {
        "organization_name": f"Varco test {profile.upper()} OP",
        "op_name": f"Varco test {profile.upper()} OP",
        "op_uri": sub,
        "issuer": sub,
        "authorization_endpoint": f"{sub}/authorization",
        "token_endpoint": f"{sub}/token",
        "userinfo_endpoint": f"{sub}/userinfo",
        "introspection_endpoint": f"{sub}/introspection",
        "revocation_endpoint": f"{sub}/revocation",
        "jwks": {"keys": op["core_public"]},
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ALGS_SIG,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "id_token_signing_alg_values_supported": ALGS_SIG,
        "id_token_encryption_alg_values_supported": ALGS_ENC,
        "id_token_encryption_enc_values_supported": ENCS,
        "userinfo_signing_alg_values_supported": ALGS_SIG,
        "userinfo_encryption_alg_values_supported": ALGS_ENC,
        "userinfo_encryption_enc_values_supported": ENCS,
        "request_object_signing_alg_values_supported": ALGS_SIG,
        "request_object_encryption_alg_values_supported": ALGS_ENC,
        "request_object_encryption_enc_values_supported": ENCS,
        "request_authentication_methods_supported": {"ar": ["request_object"]},
        "request_authentication_signing_alg_values_supported": ALGS_SIG,
        "request_parameter_supported": True,
        "subject_types_supported": ["pairwise"],
        "acr_values_supported": ACRS,
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "claims_parameter_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }
    if profile == "cie":
        md["scopes_supported"] = ["openid", "offline_access", "profile", "email"]
        # The CIE schema has no plain `fiscal_number` claim name.
        md["claims_supported"] = ["given_name", "family_name", "email", "email_verified", FISCAL]
        md["tls_client_certificate_bound_access_tokens"] = False
    else:
        md["scopes_supported"] = ["openid", "offline_access"]
        md["claims_supported"] = [
            "given_name", "family_name", "email", FISCAL,
            "https://attributes.eid.gov.it/spid_code",
        ]
    return md


def seed_op(plan: dict) -> dict:
    from django.conf import settings

    profile = settings.OIDCFED_PROVIDER_PROFILE
    op = plan["op"]
    sub = op["entity_id"]
    save_entity(
        sub=sub,
        entity_type="openid_provider",
        authority_hints=[plan["ta_entity_id"]],
        jwks_fed=[op["fed_key"]],
        jwks_core=[op["core_key"]],
        trust_marks=op["trust_marks"],
        metadata={
            "federation_entity": federation_entity_md(
                f"Varco test {profile.upper()} OP", sub, f"{sub}/resolve"
            ),
            "openid_provider": op_metadata(plan, profile),
        },
    )
    User = get_user_model()
    made = []
    for u in plan["users"]:
        User.objects.filter(username=u["username"]).delete()
        user = User.objects.create_user(
            username=u["username"],
            password=u["password"],
            email=u["email"],
            first_name=u["given_name"],
            last_name=u["family_name"],
        )
        user.attributes = {
            FISCAL: f"TINIT-{u['tax_code']}",
            "given_name": u["given_name"],
            "family_name": u["family_name"],
            "email": u["email"],
        }
        user.save()
        made.append(u["username"])
    return {"profile": profile, "users": made}


def seed_rp(plan: dict) -> dict:
    rp = plan["rp"]
    sub = rp["entity_id"]
    base = sub.rstrip("/")
    save_entity(
        sub=sub,
        entity_type="openid_relying_party",
        authority_hints=[plan["ta_entity_id"]],
        jwks_fed=[rp["fed_key"]],
        jwks_core=rp["core_keys"],
        trust_marks=rp["trust_marks"],
        metadata={
            "federation_entity": federation_entity_md(
                "Varco self-check RP", base, f"{base}/resolve"
            ),
            "openid_relying_party": {
                "application_type": "web",
                "organization_name": "Varco self-check RP",
                "client_name": "Varco self-check RP",
                "client_id": sub,
                "client_registration_types": ["automatic"],
                "contacts": ["test@pec.varco.invalid"],
                "redirect_uris": [f"{base}/oidc/rp/callback"],
                "response_types": ["code"],
                "grant_types": ["authorization_code", "refresh_token"],
                "jwks": {"keys": rp["core_public"]},
                "id_token_signed_response_alg": "RS256",
                "userinfo_signed_response_alg": "RS256",
                "userinfo_encrypted_response_alg": "RSA-OAEP",
                "userinfo_encrypted_response_enc": "A256CBC-HS512",
                "token_endpoint_auth_method": "private_key_jwt",
                # no `scope`: a string would break the TA's policy (see README)
            },
        },
    )
    return {"entity_id": sub}


def main() -> None:
    role = sys.argv[1]
    plan = json.load(sys.stdin)
    result = {"ta": seed_ta, "op": seed_op, "rp": seed_rp}[role](plan)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
