//! A temporary tree for filesystem tests: a root to serve, and an outside
//! directory whose files must never be read or changed.

use std::{fs, path::PathBuf};

/// The secret every escape test tries to read.
pub const SECRET: &str = "TOP-SECRET-OUTSIDE";

/// A root and an outside directory in one temp dir.
pub struct Tree {
    /// Keeps the directory alive.
    pub temp: tempfile::TempDir,
    /// The served root: `<temp>/project`.
    pub root: PathBuf,
    /// A sibling whose name extends the root's: `<temp>/project2`.
    pub sibling: PathBuf,
    /// Outside everything: `<temp>/outside`.
    pub outside: PathBuf,
}

impl Tree {
    /// Make the tree: `project/{hello.txt, sub/inner.txt}`,
    /// `project2/secret.txt`, `outside/secret.txt`.
    ///
    /// # Panics
    /// When the temp directory cannot be written.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().join("project");
        let sibling = temp.path().join("project2");
        let outside = temp.path().join("outside");
        for dir in [&root, &sibling, &outside, &root.join("sub")] {
            fs::create_dir_all(dir).expect("mkdir");
        }
        fs::write(root.join("hello.txt"), "hello\nworld\n").expect("write");
        fs::write(root.join("sub/inner.txt"), "inner\n").expect("write");
        fs::write(sibling.join("secret.txt"), SECRET).expect("write");
        fs::write(outside.join("secret.txt"), SECRET).expect("write");
        Self {
            temp,
            root,
            sibling,
            outside,
        }
    }

    /// The root as a string, for command lines.
    pub fn root_arg(&self) -> String {
        self.root.to_string_lossy().into_owned()
    }

    /// Every file outside the root with its content, to compare before and
    /// after an attack.
    pub fn outside_snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        for dir in [&self.sibling, &self.outside] {
            let mut entries: Vec<_> = fs::read_dir(dir)
                .expect("read_dir")
                .map(|entry| entry.expect("entry").path())
                .collect();
            entries.sort();
            for path in entries {
                let content = fs::read(&path).unwrap_or_default();
                files.push((path, content));
            }
        }
        files
    }
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}
