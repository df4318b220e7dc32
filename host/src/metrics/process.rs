//! What `/proc/self` says of this process, for the gauges refreshed at each scrape.

/// This process's resident memory (bytes), CPU time (seconds) and open descriptors, from
/// `/proc/self` (zeros where it cannot be read).
pub(super) fn stats() -> (i64, f64, i64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    // Fields 14 and 15 of /proc/self/stat, after the parenthesised command name.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            // Clock ticks; 100 per second on every Linux this runs on.
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
    (rss, cpu, fds)
}
