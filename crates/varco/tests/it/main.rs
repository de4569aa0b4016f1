//! Varco's integration tests: one binary; each test starts the real server
//! on a free port over a fresh SQLite file and, in a second run, a fresh
//! PostgreSQL database, and drives it over HTTP (or runs the real CLI).

mod harness;
mod kit;
mod smtp;

mod account_settings;
mod admin;
mod api;
mod browser;
mod cli;
mod confirmations;
mod desk;
mod desk_recovery;
mod federation;
mod federation_hostile;
mod federation_peers;
mod lifecycle;
mod login_policy;
mod newcomer;
mod oidc;
mod oidc_browser;
mod oidc_pitfalls;
mod oidc_rp;
mod pages;
mod proxy;
mod recovery;
mod registro;
mod requests;
mod second_secret;
mod security;
mod setup;
mod students;
mod upstream;
mod year_end;
