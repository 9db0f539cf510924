//! Memory of a process and of its children, read from /proc (Linux only;
//! elsewhere every reading is 0). Read-only: it never signals or changes a
//! process.

/// One `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`...), in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The resident set of `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// The highest resident set `pid` has had (`VmHWM`), in KiB.
pub fn peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

/// Every descendant of `pid` (children, their children...), from
/// /proc/PID/task/*/children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|value| value.parse::<u32>().ok())
            {
                all.push(child);
                queue.push(child);
            }
        }
    }
    all
}

/// The resident set of `pid` and all its descendants now, in KiB (pages
/// shared between them are counted once per process, as `ps` does).
pub fn tree_rss_kib(pid: u32) -> u64 {
    rss_kib(pid) + descendants(pid).into_iter().map(rss_kib).sum::<u64>()
}
