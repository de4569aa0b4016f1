//! `varco client …` and `varco keys rotate`: the provider's clients and keys
//! (`client try` lives in [`super::client_try`]).

use anyhow::Context;
use varco_app::Actor;
use varco_app::clients::{ClientKind, ClientRegistration};
use varco_oidc::Alg;

use super::admin::{app_error, open, out};
use super::{ClientAddArgs, ClientCommand, KeysCommand};
use crate::config::Config;

pub(super) async fn client(config: &Config, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add(args) => add(config, args).await,
        ClientCommand::List { json } => list(config, json).await,
        ClientCommand::Remove { client_id } => {
            let app = open(config).await?;
            varco_app::clients::remove(&app, &client_id, &Actor::Cli)
                .await
                .map_err(app_error)?;
            eprintln!("client {client_id} removed with its tokens and consents");
            Ok(())
        }
        ClientCommand::Try(args) => super::client_try::run(config, args).await,
        ClientCommand::RotateSecret { client_id } => {
            let app = open(config).await?;
            let secret = varco_app::clients::rotate_secret(&app, &client_id, &Actor::Cli)
                .await
                .map_err(app_error)?;
            out(secret);
            eprintln!("new secret above: store it now, it is not shown again; the old one no longer works");
            Ok(())
        }
    }
}

async fn add(config: &Config, args: ClientAddArgs) -> anyhow::Result<()> {
    let jwks = match &args.jwks {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("cannot read the JWK Set {}", path.display()))?)
        }
        None => None,
    };
    let kind = if args.public {
        ClientKind::Public
    } else if jwks.is_some() {
        ClientKind::PrivateKeyJwt
    } else {
        ClientKind::Confidential
    };
    let app = open(config).await?;
    let registered = varco_app::clients::register(
        &app,
        ClientRegistration {
            name: args.name,
            kind,
            redirect_uris: args.redirect_uris,
            post_logout_redirect_uris: args.post_logout_redirect_uris,
            scopes: args.scopes,
            schools: args.schools,
            first_party: args.first_party,
            id_token_alg: if args.es256 { Alg::Es256 } else { Alg::Rs256 },
            pairwise: args.pairwise,
            backchannel_logout_uri: args.backchannel_logout_uri,
            jwks,
        },
        &Actor::Cli,
    )
    .await
    .map_err(app_error)?;
    out(&registered.client_id);
    if let Some(secret) = &registered.secret {
        out(secret);
        eprintln!("client registered; its secret (second line) is shown only now: store it in the application");
    } else {
        eprintln!("client registered");
    }
    eprintln!(
        "discovery: {}/.well-known/openid-configuration",
        config.effective_public_url()
    );
    Ok(())
}

async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
    for client in varco_app::clients::list(&app).await.map_err(app_error)? {
        if json {
            out(serde_json::to_string(&serde_json::json!({
                "client_id": client.client_id,
                "name": client.name,
                "auth_method": client.auth_method,
                "redirect_uris": client.redirect_uris,
                "post_logout_redirect_uris": client.post_logout_redirect_uris,
                "scopes": client.scopes,
                "schools": client.schools,
                "first_party": client.first_party,
                "id_token_alg": client.id_token_alg,
                "pairwise": client.pairwise,
                "backchannel_logout_uri": client.backchannel_logout_uri,
            }))?);
        } else {
            out(format!(
                "{}\t{}\t{}\t{}",
                client.client_id,
                client.name,
                client.auth_method,
                client.redirect_uris.join(" ")
            ));
        }
    }
    Ok(())
}

pub(super) async fn keys(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate => {
            let app = open(config).await?;
            let kids = varco_app::clients::rotate_signing_keys(&app, &Actor::Cli)
                .await
                .map_err(app_error)?;
            for kid in kids {
                out(kid);
            }
            eprintln!("new signing keys above; running servers use them within a minute");
            Ok(())
        }
    }
}
