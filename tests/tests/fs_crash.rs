//! Crash safety: SIGKILL the server at random moments while it writes or
//! edits a large file. Writes go to a temporary file that is renamed over
//! the target, so the file must always hold the complete old content or
//! the complete new content, never a mix or a truncation.
//!
//! The test also proves its kills matter: each kill first stops the server
//! (SIGSTOP), looks for an open temporary file in the root (a write in
//! flight), then kills it, and a minimum of kills must have landed mid-write.
//! The seed is printed; `MOAT_CRASH_SEED=<seed>` replays the same delays.

use std::{
    fs,
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use moat_tests::{binary, fixture::Tree};
use serde_json::json;

/// Kills of an append: it copies the old file too, so it is slower per
/// round; 60 rounds give a few dozen kills mid-write.
const APPEND_KILLS: usize = 60;
/// Fewest append kills that must land while its temporary file is open
/// (the same third of the measured rate as [`MIN_KILLS_MID_WRITE`]).
const MIN_APPEND_KILLS_MID_WRITE: usize = 10;
/// Size of the tail an append adds: large enough that a torn tail (part
/// of it written) would be seen.
const TAIL_BYTES: usize = 256 * 1024;

/// Kills per tool: 2 tools × 60 = 120, over the 100 asked for.
const KILLS_PER_TOOL: usize = 60;
/// Size of the file being replaced: large enough that writing it takes a
/// while, so kills land in the middle.
const FILE_BYTES: usize = 4 * 1024 * 1024;
/// Kills are spread over this multiple of the time one uninterrupted call
/// takes (measured first), so some land before, many during, and some
/// after the write.
const SPREAD: f64 = 1.3;
/// Replays a run: set it to the seed a run printed.
const SEED_ENV: &str = "MOAT_CRASH_SEED";
/// Fewest kills that must land while a temporary file is open for writing;
/// fewer and the run proved nothing about crashes mid-write. Measured: 59
/// of 120 on a loaded 2-core machine, so a third of that leaves room.
const MIN_KILLS_MID_WRITE: usize = 20;

/// A small xorshift generator, seeded from the clock: a new interleaving
/// each run, no extra crate.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Stop `pid` (SIGSTOP) and wait until it is stopped, then say whether it
/// holds a file open in `root` other than `target`: the temporary file of a
/// write in flight (an `O_TMPFILE` shows as `root/#inode (deleted)`, a
/// named one as `root/.tmpXXXX`).
fn stop_and_find_temp_file(pid: u32, root: &Path, target: &Path) -> bool {
    let _ = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    for _ in 0..1000 {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the parenthesised command name.
        let state = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.chars().next());
        // Stopped, or already gone (a zombie after its stdin closed).
        if !matches!(state, Some('R' | 'S' | 'D')) {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .any(|open| open.starts_with(root) && open != target)
}

/// Start the server, send `call` after the handshake, and either kill it
/// after `delay` or (`None`) wait for the answer; returns the time taken
/// and whether the kill landed while a temporary file was open in `root`.
fn run_and_kill(
    root: &Path,
    call: &serde_json::Value,
    delay: Option<Duration>,
) -> (Duration, bool) {
    // Build (or find) the binary before the clock starts: a build inside
    // the calibration would stretch the kill window to minutes.
    let program = binary("moat-fs");
    let started = std::time::Instant::now();
    let mut child = Command::new(program)
        .arg(root)
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(if delay.is_some() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "crash-test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}),
    ];
    let writer = std::thread::spawn(move || {
        for message in messages {
            // The pipe breaks when the server is killed mid-message.
            if writeln!(stdin, "{message}").is_err() {
                return;
            }
        }
        let _ = stdin.flush();
        // Keep stdin open so the server does not exit on EOF first.
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut mid_write = false;
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        mid_write = stop_and_find_temp_file(child.id(), root, &root.join("big.txt"));
    } else {
        let stdout = child.stdout.take().expect("stdout");
        let answered = std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .map_while(Result::ok)
            .any(|line| line.contains("\"id\":2"));
        assert!(answered, "the uninterrupted call got no answer");
    }
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();
    (elapsed, mid_write)
}

/// The seed of this run: `MOAT_CRASH_SEED` when set, else the clock.
fn seed() -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(seed) => seed
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{SEED_ENV}={seed:?} is not a number")),
        Err(_) => {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0x9e37_79b9, |time| time.as_nanos() as u64)
                | 1
        }
    };
    eprintln!("crash test: seed {seed} (replay with {SEED_ENV}={seed})");
    seed
}

/// write_file and edit_file killed at random moments: always all old or
/// all new.
#[test]
fn sigkill_during_write_or_edit_leaves_old_or_new() {
    let tree = Tree::new();
    // /proc shows open files by their real path.
    let root = fs::canonicalize(&tree.root).expect("root");
    let path = root.join("big.txt");
    let filler = "0123456789abcdef".repeat(FILE_BYTES / 16);
    let old = format!("HEADER-OLD\n{filler}");
    let written = format!("HEADER-WRITTEN\n{filler}");
    let edited = format!("HEADER-NEW\n{filler}");
    let seed = seed();
    let mut random = Random(seed);
    fs::write(&path, &old).expect("reset");
    let calibration =
        json!({"name": "write_file", "arguments": {"path": "big.txt", "content": written}});
    let window = run_and_kill(&root, &calibration, None).0.mul_f64(SPREAD);
    assert_eq!(fs::read_to_string(&path).expect("read"), written);
    eprintln!("crash test: one uninterrupted write takes {window:?} (x{SPREAD})");
    let window_micros = (window.as_micros() as u64).max(1);
    let mut outcomes = [0usize; 3];
    let mut kills_mid_write = 0;
    for round in 0..KILLS_PER_TOOL * 2 {
        fs::write(&path, &old).expect("reset");
        let (call, new) = if round % 2 == 0 {
            (
                json!({"name": "write_file", "arguments": {"path": "big.txt", "content": written}}),
                &written,
            )
        } else {
            (
                json!({"name": "edit_file", "arguments": {"path": "big.txt",
                    "edits": [{"oldText": "HEADER-OLD", "newText": "HEADER-NEW"}]}}),
                &edited,
            )
        };
        let delay = Duration::from_micros(random.next() % window_micros);
        let (_, mid_write) = run_and_kill(&root, &call, Some(delay));
        kills_mid_write += usize::from(mid_write);
        let content = fs::read_to_string(&path).expect("read");
        if content == old {
            outcomes[0] += 1;
        } else if &content == new {
            outcomes[1 + round % 2] += 1;
        } else {
            panic!(
                "round {round} (seed {seed}, delay {delay:?}): the file is neither old nor new ({} bytes, starts {:?})",
                content.len(),
                content.chars().take(20).collect::<String>()
            );
        }
    }
    eprintln!(
        "crash test: {} old, {} written, {} edited, {kills_mid_write} kills mid-write (seed {seed}, window {window:?})",
        outcomes[0], outcomes[1], outcomes[2]
    );
    assert!(
        kills_mid_write >= MIN_KILLS_MID_WRITE,
        "only {kills_mid_write} of {} kills landed while a temporary file was open (want {MIN_KILLS_MID_WRITE}; seed {seed})",
        KILLS_PER_TOOL * 2
    );
}

/// write_file in append mode killed at random moments: the file always
/// holds the old content, or the old content plus the whole tail, never a
/// torn tail or a torn middle.
#[test]
fn sigkill_during_append_leaves_old_or_old_plus_whole_tail() {
    let tree = Tree::new();
    let root = fs::canonicalize(&tree.root).expect("root");
    let path = root.join("big.txt");
    let old = format!("HEADER-OLD\n{}", "0123456789abcdef".repeat(FILE_BYTES / 16));
    let tail = format!("TAIL\n{}END\n", "zyxwvutsrqponmlk".repeat(TAIL_BYTES / 16));
    let appended = format!("{old}{tail}");
    let call = json!({"name": "write_file",
        "arguments": {"path": "big.txt", "content": tail, "mode": "append"}});
    let mut random = Random(seed());
    fs::write(&path, &old).expect("reset");
    let window = run_and_kill(&root, &call, None).0.mul_f64(SPREAD);
    assert_eq!(fs::read_to_string(&path).expect("read"), appended);
    let window_micros = (window.as_micros() as u64).max(1);
    let (mut kept, mut whole, mut kills_mid_write) = (0, 0, 0);
    for round in 0..APPEND_KILLS {
        fs::write(&path, &old).expect("reset");
        let delay = Duration::from_micros(random.next() % window_micros);
        let (_, mid_write) = run_and_kill(&root, &call, Some(delay));
        kills_mid_write += usize::from(mid_write);
        let content = fs::read_to_string(&path).expect("read");
        if content == old {
            kept += 1;
        } else if content == appended {
            whole += 1;
        } else {
            panic!(
                "round {round} (delay {delay:?}): neither old nor old plus the whole tail ({} bytes)",
                content.len()
            );
        }
    }
    eprintln!("append crash test: {kept} old, {whole} appended, {kills_mid_write} kills mid-write");
    assert!(
        kills_mid_write >= MIN_APPEND_KILLS_MID_WRITE,
        "only {kills_mid_write} of {APPEND_KILLS} kills landed while a temporary file was open"
    );
}
