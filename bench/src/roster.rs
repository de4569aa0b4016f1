//! A large school roster as CSV, and timing `varco import` on it.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::seed::{RunError, varco, varco_within};
use crate::taxcode::tax_code;

const FIRST_NAMES: &[&str] = &[
    "Marco",
    "Giulia",
    "Luca",
    "Francesca",
    "Alessandro",
    "Chiara",
    "Niccolò",
    "Sofia",
    "Matteo",
    "Aurora",
    "Lorenzo",
    "Martina",
    "Andrea",
    "Giorgia",
    "Gabriele",
    "Beatrice",
    "Riccardo",
    "Alice",
    "Tommaso",
    "Anna Maria",
];
const LAST_NAMES: &[&str] = &[
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno",
    "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "D'Angelo",
];

/// Lower-case ASCII letters only, for emails and usernames.
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'ò' => Some('o'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Writes `rows` people: distinct valid tax codes, one row in ten staff, the
/// rest family, every row with an email and every other row with a username.
pub fn generate(path: &Path, rows: usize, seed: u64) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut rng = StdRng::seed_from_u64(seed);
    writeln!(out, "tax_code;first_name;last_name;kind;email;username")?;
    for i in 0..rows {
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        let cf = tax_code(i as u64, &mut rng);
        let kind = if i % 10 == 0 { "staff" } else { "family" };
        let email = format!("{}.{}.{i}@example.it", slug(first), slug(last));
        let username = if i % 2 == 0 {
            format!("u.{}.{i}", slug(first))
        } else {
            String::new()
        };
        writeln!(out, "{cf};{first};{last};{kind};{email};{username}")?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportRun {
    /// Killed at the time limit (then `seconds` is the limit and the counts are 0).
    pub timed_out: bool,
    pub seconds: f64,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub output: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    pub file_rows: usize,
    pub generate_seconds: f64,
    pub timeout_seconds: f64,
    pub first: ImportRun,
    /// Not run when the first import timed out.
    pub again: Option<ImportRun>,
}

fn field(line: &str, name: &str) -> anyhow::Result<u64> {
    line.split(',')
        .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix(": ")?.trim().parse().ok())
        .ok_or_else(|| anyhow!("no {name:?} in the import report {line:?}"))
}

fn import_once(varco_bin: &Path, school: &str, file: &Path, timeout: Duration) -> anyhow::Result<ImportRun> {
    let file = file.to_str().ok_or_else(|| anyhow!("the roster path is not UTF-8"))?;
    let start = Instant::now();
    let output = match varco_within(varco_bin, &["import", "--school", school, file], None, timeout) {
        Ok(output) => output,
        Err(RunError::TimedOut(limit)) => {
            return Ok(ImportRun {
                timed_out: true,
                seconds: limit.as_secs_f64(),
                output: format!("killed after {} s", limit.as_secs()),
                ..ImportRun::default()
            });
        }
        Err(e) => return Err(anyhow!("{e}")),
    };
    let seconds = start.elapsed().as_secs_f64();
    let line = output
        .lines()
        .find(|l| l.starts_with("rows:"))
        .ok_or_else(|| anyhow!("varco import printed no report: {output:?}"))?
        .to_owned();
    Ok(ImportRun {
        timed_out: false,
        seconds,
        rows: field(&line, "rows")?,
        created: field(&line, "created")?,
        updated: field(&line, "updated")?,
        unchanged: field(&line, "unchanged")?,
        skipped: field(&line, "skipped")?,
        output: line,
    })
}

pub fn run(
    varco_bin: &Path,
    school: &str,
    file: &Path,
    rows: usize,
    timeout: Duration,
) -> anyhow::Result<ImportReport> {
    let start = Instant::now();
    generate(file, rows, 42)?;
    let generate_seconds = start.elapsed().as_secs_f64();
    eprintln!("import: {rows} rows written in {generate_seconds:.1} s");
    varco(
        varco_bin,
        &["school", "add", "--code", school, "--name", "Bench Import"],
        None,
    )
    .context("adding the import school")?;
    let first = import_once(varco_bin, school, file, timeout).context("first import")?;
    eprintln!("import: first {:.1} s: {}", first.seconds, first.output);
    let again = if first.timed_out {
        eprintln!("import: the first import did not finish; not importing again");
        None
    } else {
        let again = import_once(varco_bin, school, file, timeout).context("second import")?;
        eprintln!("import: again {:.1} s: {}", again.seconds, again.output);
        Some(again)
    };
    Ok(ImportReport {
        file_rows: rows,
        generate_seconds,
        timeout_seconds: timeout.as_secs_f64(),
        first,
        again,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_report_lines_parse() {
        let line = "rows: 100000, created: 99999, updated: 1, unchanged: 0, skipped: 0";
        assert_eq!(field(line, "rows").unwrap(), 100_000);
        assert_eq!(field(line, "created").unwrap(), 99_999);
        assert_eq!(field(line, "updated").unwrap(), 1);
        assert!(field(line, "missing").is_err());
    }

    #[test]
    fn slugs_are_ascii_letters() {
        assert_eq!(slug("Niccolò"), "niccolo");
        assert_eq!(slug("D'Angelo"), "dangelo");
        assert_eq!(slug("Anna Maria"), "annamaria");
    }
}
