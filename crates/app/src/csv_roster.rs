//! The conventions every roster file Varco reads follows (the people
//! roster of `import` set them; the students roster of `student_import`
//! reads its file with these steps): UTF-8 with or without a byte-order
//! mark, `;` or `,` as separator — whichever the header line has more of
//! (Italian spreadsheet exports use `;`) — quoted fields allowed, header
//! names compared without case with spaces and dashes read as `_`, blank
//! lines skipped, and every refusal named by the line it starts on.
//!
//! Part of the lower layer: nothing here reads the store.

use std::io::Read;

use serde::Serialize;

/// A row that cannot be imported, with its line number in the file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// A roster file read as text, with its separator decided.
#[derive(Debug, Clone)]
pub(crate) struct CsvText {
    /// The text after the byte-order mark.
    pub(crate) text: String,
    /// `b';'` or `b','`.
    pub(crate) delimiter: u8,
}

impl CsvText {
    /// Reads the whole input. Refuses (with the reason to show) a file that
    /// is not UTF-8 or whose first line (the header) is blank.
    pub(crate) fn read(mut input: impl Read) -> Result<CsvText, String> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "the file is not UTF-8 (byte {} is invalid); save it as UTF-8",
                e.utf8_error().valid_up_to()
            )
        })?;
        let text = text.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(text);
        let header_line = text.lines().next().unwrap_or("");
        if header_line.trim().is_empty() {
            return Err("the file is empty or its first line (the header) is blank".into());
        }
        let delimiter = if header_line.matches(';').count() >= header_line.matches(',').count() {
            b';'
        } else {
            b','
        };
        Ok(CsvText { text, delimiter })
    }

    /// A CSV reader over the text: flexible (a short row is reported by the
    /// caller with its line), fields trimmed, the first record the header.
    pub(crate) fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(self.text.as_bytes())
    }

    /// The line a record starts on. The csv crate positions a record where
    /// it started reading, before the blank lines it skipped: count those.
    pub(crate) fn line_of(&self, position: &csv::Position) -> u64 {
        let skipped = self
            .text
            .as_bytes()
            .get(position.byte() as usize..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .filter(|&&b| b == b'\n')
            .count();
        position.line() + skipped as u64
    }
}

/// A header name as compared: trimmed, lower case, spaces and dashes as `_`.
pub(crate) fn header_key(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(bytes: &[u8]) -> String {
        CsvText::read(bytes).expect_err("refused")
    }

    #[test]
    fn the_header_decides_the_separator_and_a_bom_is_dropped() {
        let semicolons = CsvText::read("\u{feff}a;b,c;d\n1;2;3\n".as_bytes()).unwrap();
        assert_eq!(semicolons.delimiter, b';');
        assert!(semicolons.text.starts_with("a;"));
        let commas = CsvText::read("a,b,c;d\n".as_bytes()).unwrap();
        assert_eq!(commas.delimiter, b',');
    }

    #[test]
    fn unreadable_files_say_why() {
        assert!(refused(b"").contains("empty"));
        assert!(refused(b"\n\nx\n").contains("blank"));
        assert!(refused(b"a;b\xff\n").contains("UTF-8"));
    }

    #[test]
    fn lines_count_the_skipped_blank_lines() {
        let csv = CsvText::read("a;b\r\n\r\n\r\n1;2\r\n3;4\n".as_bytes()).unwrap();
        let mut reader = csv.reader();
        let lines: Vec<u64> = reader
            .records()
            .map(|r| csv.line_of(r.unwrap().position().unwrap()))
            .collect();
        assert_eq!(lines, [4, 5]);
    }

    #[test]
    fn header_keys_ignore_case_spaces_and_dashes() {
        assert_eq!(header_key(" Codice Fiscale "), "codice_fiscale");
        assert_eq!(header_key("CF-Genitore1"), "cf_genitore1");
    }
}
