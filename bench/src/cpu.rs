//! How much of the machine other processes used while a benchmark ran, from
//! /proc: the figures are CPU-bound, so work from outside (a build, tests)
//! shows up here instead of silently lowering them.

/// CPU time counters, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    machine_total: u64,
    machine_busy: u64,
    server: u64,
    own: u64,
}

fn machine() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total, total.saturating_sub(idle))
}

/// utime + stime of a process (all its threads), in clock ticks.
pub fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    ticks(11) + ticks(12)
}

pub fn snapshot(server: Option<u32>) -> Snapshot {
    let (machine_total, machine_busy) = machine();
    Snapshot {
        machine_total,
        machine_busy,
        server: server.map(|p| process_ticks(&p.to_string())).unwrap_or(0),
        own: process_ticks("self"),
    }
}

/// The share of the machine's whole capacity (0..1) that processes other
/// than the server and this one used between two snapshots.
pub fn others_share(before: &Snapshot, after: &Snapshot) -> f64 {
    let total = after.machine_total.saturating_sub(before.machine_total);
    if total == 0 {
        return 0.0;
    }
    let busy = after.machine_busy.saturating_sub(before.machine_busy);
    let ours = after.server.saturating_sub(before.server) + after.own.saturating_sub(before.own);
    busy.saturating_sub(ours) as f64 / total as f64
}

/// CPU seconds (user + system) the server and this process used between two
/// snapshots, assuming Linux's fixed 100 clock ticks per second (USER_HZ).
pub fn seconds_used(before: &Snapshot, after: &Snapshot) -> (f64, f64) {
    let server = after.server.saturating_sub(before.server) as f64 / 100.0;
    let own = after.own.saturating_sub(before.own) as f64 / 100.0;
    (server, own)
}
