//! The `varco` binary's wiring: configuration, the server, the admin CLI.
//! No rule lives here; everything is delegated to `varco_app`.

pub mod cli;
pub mod config;
pub mod private_files;
pub mod server;
