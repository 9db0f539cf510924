//! Faults: the disk fills up during a write or an edit. The server answers
//! with one clear line, the old file is intact, no temporary file is left
//! behind, and the next call works.
//!
//! The disk is a 1 MiB tmpfs the test mounts (the suite runs as root, as CI
//! does here); unmounted when the test ends.

use std::{path::PathBuf, process::Command};

use moat_tests::{Era, Session, Transport, is_error, text};
use serde_json::json;

/// A tmpfs of `size` mounted on a fresh temp dir, unmounted on drop.
struct SmallDisk {
    _temp: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallDisk {
    fn new(size: &str) -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let mount = temp.path().join("disk");
        std::fs::create_dir(&mount).expect("mkdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: the fault tests need root (as CI runs here)"
        );
        Self { _temp: temp, mount }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

/// write_file and edit_file on a full disk: a clear error, the old content
/// intact, no temporary file left, and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn disk_full_keeps_the_old_file() {
    let disk = SmallDisk::new("1m");
    let old = "old line\n".repeat(70_000); // ~630 KB: a second copy does not fit
    std::fs::write(disk.mount.join("notes.txt"), &old).expect("seed");
    let root = disk.mount.to_string_lossy().into_owned();
    let session = Session::start("moat-fs", &[&root], Transport::Stdio, Era::Handshake)
        .await
        .expect("start");

    let new = "new line\n".repeat(70_000);
    let write = session
        .call("write_file", json!({"path": "notes.txt", "content": new}))
        .await
        .expect("call");
    assert!(is_error(&write), "the write cannot fit: {}", text(&write));
    let message = text(&write);
    assert!(message.contains("no space left"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert_eq!(
        std::fs::read_to_string(disk.mount.join("notes.txt")).expect("read"),
        old
    );

    let edit = session
        .call(
            "edit_file",
            json!({"path": "notes.txt", "edits": [{"oldText": "old line", "newText": "new line", "replaceAll": true}]}),
        )
        .await
        .expect("call");
    assert!(is_error(&edit), "the edit cannot fit: {}", text(&edit));
    assert!(text(&edit).contains("no space left"), "{}", text(&edit));
    assert_eq!(
        std::fs::read_to_string(disk.mount.join("notes.txt")).expect("read"),
        old
    );

    let leftovers: Vec<_> = std::fs::read_dir(&disk.mount)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("notes.txt")],
        "temporary files left behind"
    );

    let small = session
        .call(
            "write_file",
            json!({"path": "small.txt", "content": "fits\n"}),
        )
        .await
        .expect("call");
    assert!(!is_error(&small), "{}", text(&small));
}
