//! A real SMTP server on loopback for the mail tests: `aiosmtpd` (PyPI),
//! storing what it receives in a Maildir that the tests read. `.ci/run`
//! installs it; without it a test fails under CI and skips elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    pub port: u16,
    pub maildir: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded), case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self
            .raw
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        let head = head.replace("\n ", " ");
        head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The decoded text of every part (quoted-printable and base64 undone).
    pub fn text(&self) -> String {
        decode_bodies(&self.raw)
    }
}

fn python_has_aiosmtpd() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl SmtpSink {
    /// Starts the server, or `None` (skip) when aiosmtpd is missing outside CI.
    pub fn start() -> Option<SmtpSink> {
        if !python_has_aiosmtpd() {
            if std::env::var_os("CI").is_some() {
                panic!("aiosmtpd is required in CI (pip install aiosmtpd)");
            }
            eprintln!("SKIPPING a mail test: python3 -m aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().expect("maildir");
        let maildir = dir.path().join("maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut sink = SmtpSink {
            port,
            maildir,
            child: None,
            _dir: dir,
        };
        sink.resume();
        Some(sink)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and Maildir.
    pub fn resume(&mut self) {
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&self.maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (connections are then refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((modified, entry.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| read(&path).map(|raw| Received { raw }))
            .collect()
    }

    /// Waits until at least `n` messages to `to` arrived (at most `timeout`)
    /// and returns those, oldest first. Other recipients' mail, however much
    /// of it arrives meanwhile, counts for nothing.
    pub async fn wait_for_to(&self, to: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let mine: Vec<Received> = self
                .messages()
                .into_iter()
                .filter(|m| m.header("To").as_deref() == Some(to))
                .collect();
            if mine.len() >= n || Instant::now() >= deadline {
                return mine;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until at least `n` messages arrived (at most `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Undoes quoted-printable and base64 transfer encodings of every part, well
/// enough for assertions on texts and links.
fn decode_bodies(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut out = String::new();
    let mut encoding = String::new();
    let mut in_headers = true;
    let mut buffer = String::new();
    let flush = |encoding: &str, buffer: &mut String, out: &mut String| {
        match encoding {
            "quoted-printable" => out.push_str(&decode_qp(buffer)),
            "base64" => {
                let cleaned: String = buffer.chars().filter(|c| !c.is_whitespace()).collect();
                match base64_decode(&cleaned) {
                    Some(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
                    None => out.push_str(buffer),
                }
            }
            _ => out.push_str(buffer),
        }
        buffer.clear();
    };
    for line in raw.lines() {
        if line.starts_with("--") {
            flush(&encoding, &mut buffer, &mut out);
            in_headers = true;
            encoding.clear();
            continue;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-transfer-encoding:") {
                encoding = v.trim().to_owned();
            }
            continue;
        }
        buffer.push_str(line);
        buffer.push('\n');
    }
    flush(&encoding, &mut buffer, &mut out);
    out
}

fn decode_qp(s: &str) -> String {
    let mut bytes = Vec::new();
    let mut lines = s.split('\n').peekable();
    while let Some(line) = lines.next() {
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'='
                && i + 2 < b.len()
                && let Ok(v) = u8::from_str_radix(&line[i + 1..i + 3], 16)
            {
                bytes.push(v);
                i += 3;
                continue;
            }
            bytes.push(b[i]);
            i += 1;
        }
        if !soft && lines.peek().is_some() {
            bytes.push(b'\n');
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
