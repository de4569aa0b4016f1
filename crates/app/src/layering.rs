//! The layering rule of `app`, checked on the source: a use-case module
//! calls down into the lower layer and never across into another use case,
//! and the lower layer never calls up; inside the lower layer there is no
//! circle. Every module must be listed in one of the two layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Login, recovery, email change, password change, import, setup, jobs,
/// the operators' accounts, schools, outbox, the sessions page, the desk
/// and the admin console.
const USE_CASES: &[&str] = &[
    "accounts",
    "admin",
    "applications",
    "authorize",
    "account_secret",
    "clients",
    "confirmations",
    "desk",
    "email_change",
    "federation_log",
    "import",
    "jobs",
    "login",
    "oauth_tokens",
    "outbox",
    "password",
    "recovery",
    "requests",
    "schools",
    "session_list",
    "setup",
    "student_import",
    "students",
    "upstream",
];

/// The shared steps.
const LOWER: &[&str] = &[
    "account_actions",
    "audit",
    "client_registration",
    "credentials",
    "csv_roster",
    "documents",
    "error",
    "federation",
    "gates",
    "guardianship",
    "hashing",
    "login_policy",
    "lookup",
    "mail",
    "mailed_links",
    "notices",
    "policy",
    "provider",
    "registration",
    "second_secret",
    "sessions",
    "timing",
    "upstream_rp",
    "views",
];

/// Files that are not layered: the crate root (the `App` every module
/// uses) and this check.
const UNLAYERED: &[&str] = &["lib", "layering"];

/// The modules of this crate a source file refers to through `crate::`,
/// outside comments.
fn references(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // `crate::{a, b::C}`: the first segment of each path.
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|path| path.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or_default(),
                ],
            };
            found.extend(names.into_iter().filter(|n| modules.contains(*n)).map(str::to_owned));
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let source = std::fs::read_to_string(&path).unwrap();
            sources.entry(name).or_insert_with(String::new).push_str(&source);
        } else if path.is_dir() {
            // `src/desk/recovery.rs` is part of the module `desk`.
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for child in std::fs::read_dir(&path).unwrap() {
                let child = child.unwrap().path();
                if child.extension().is_some_and(|e| e == "rs") {
                    let source = std::fs::read_to_string(&child).unwrap();
                    sources
                        .entry(name.clone())
                        .or_insert_with(String::new)
                        .push_str(&source);
                }
            }
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, source)| {
            let mut uses = references(source, &modules);
            uses.remove(name);
            (name.clone(), uses)
        })
        .collect()
}

#[test]
fn every_module_is_in_one_layer() {
    for module in graph().keys() {
        let listed = [USE_CASES, LOWER, UNLAYERED]
            .iter()
            .filter(|layer| layer.contains(&module.as_str()))
            .count();
        assert_eq!(listed, 1, "src/{module}.rs must be listed in exactly one layer");
    }
}

#[test]
fn use_cases_call_down_never_across_and_the_lower_layer_never_up() {
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        if UNLAYERED.contains(&module.as_str()) {
            continue;
        }
        for used in uses {
            if USE_CASES.contains(&used.as_str()) {
                wrong.push(format!("{module} -> {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "calls into a use-case module: {wrong:?}");
}

#[test]
fn the_lower_layer_has_no_circle() {
    let graph = graph();
    // Depth-first search for a back edge among the lower modules.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(module) {
            return;
        }
        if let Some(start) = path.iter().position(|m| *m == module) {
            panic!("circle in the lower layer: {:?}", &path[start..]);
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if LOWER.contains(&next.as_str()) {
                visit(next, graph, path, done);
            }
        }
        path.pop();
        done.insert(module);
    }
    let mut done = BTreeSet::new();
    for module in LOWER {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn references_are_read_from_paths_and_groups_but_not_comments() {
    let modules: BTreeSet<String> = ["audit", "mail", "login"].iter().map(|s| s.to_string()).collect();
    let source = "use crate::audit::{self, AuditEvent};\n\
                  use crate::{App, mail::Mail};\n\
                  // see crate::login\n\
                  let x = crate::App::new();\n";
    let found = references(source, &modules);
    assert_eq!(found, ["audit", "mail"].iter().map(|s| s.to_string()).collect());
}
