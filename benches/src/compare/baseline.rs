//! The command-line tools the walk rows are measured against (issue 15's
//! goals: `search_files` within 1.5× of `find`, the content search within
//! 1.5× of `rg`). Each runs as a subprocess on the folder the servers
//! search, with the same query, timed from spawn to exit with its whole
//! output read; its output is checked like every server's answer: one
//! path a line, exactly the tree's files the query must find (the ones
//! moat's answer is checked to hold). It only reads the tree, and never
//! times a tool that is not on PATH: that is reported as missing.

use std::{
    collections::BTreeSet,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use tokio::process::Command;

use crate::{tree, workload::thousands};

/// What a tool's command says in place of the generated tree's folder,
/// whose path changes from run to run.
const TREE_WORD: &str = "{tree}";
/// How the report shows that folder.
const TREE_SHOWN: &str = "TREE";

/// One command-line tool, the equivalent of one walk workload.
pub struct Baseline {
    /// The workload it is the equivalent of.
    pub workload: &'static str,
    /// Its command; [`TREE_WORD`] stands for the big tree's folder.
    words: &'static [&'static str],
    /// Which of the tree's files it must list.
    wanted: fn(usize) -> bool,
}

/// Every command-line tool measured, in table order.
pub const BASELINES: &[Baseline] = &[
    // `-type f`: moat's `search_files` would list a directory named `*.rs`
    // too, but the tree has none; find's `-name`, like moat's glob, lets
    // `*` match a leading dot (the tree has no hidden file either).
    Baseline {
        workload: "glob",
        words: &["find", TREE_WORD, "-name", "*.rs", "-type", "f"],
        wanted: tree::is_rust,
    },
    // rg's defaults skip hidden files and what `.gitignore` (in a git
    // repository), `.ignore` and `.rgignore` name, and binary files; moat
    // honours `.gitignore` and skips binary files. The tree is no git
    // repository and has no hidden, ignore or binary file, so both read
    // every file.
    Baseline {
        workload: "grep",
        words: &[
            "rg",
            "--files-with-matches",
            "--fixed-strings",
            tree::NEEDLE,
            TREE_WORD,
        ],
        wanted: tree::holds_needle,
    },
];

impl Baseline {
    /// Its program (`find`, `rg`).
    pub fn program(&self) -> &'static str {
        self.words[0]
    }

    /// The command as the report shows it: the tree's folder as `TREE`,
    /// a word with glob characters quoted as a shell needs it.
    pub fn shown(&self) -> String {
        let words: Vec<String> = self
            .words
            .iter()
            .map(|word| {
                let word = word.replace(TREE_WORD, TREE_SHOWN);
                if word.contains(['*', '?', '[']) {
                    format!("'{word}'")
                } else {
                    word
                }
            })
            .collect();
        words.join(" ")
    }

    /// Why it cannot run here (its program is not on PATH), if so.
    pub fn missing(&self) -> Option<String> {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|folder| folder.join(self.program()).is_file())
        });
        (!found).then(|| format!("{} is not on PATH", self.program()))
    }

    /// Run it once on the big tree under `root`: the time from spawn to
    /// exit (its output read), and the check of that output. Err when it
    /// could not start, ran past `deadline` (it is then killed) or exited
    /// with a failure.
    pub async fn once(
        &self,
        root: &Path,
        deadline: Duration,
    ) -> Result<(Duration, std::result::Result<String, String>)> {
        let folder = root.join(tree::TREE_DIR);
        let folder = folder.to_string_lossy();
        let program = self.program();
        let mut command = Command::new(program);
        command
            .args(
                self.words[1..]
                    .iter()
                    .map(|word| word.replace(TREE_WORD, &folder)),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let began = Instant::now();
        let output = tokio::time::timeout(deadline, command.output())
            .await
            .with_context(|| format!("{program} ran past {} s", deadline.as_secs()))?
            .with_context(|| format!("start {program}"))?;
        let took = began.elapsed();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "{program} exited with {}: {}",
                output.status,
                stderr.lines().next().unwrap_or("nothing on stderr")
            );
        }
        Ok((
            took,
            self.check(&String::from_utf8_lossy(&output.stdout), &folder),
        ))
    }

    /// Check a tool's `output`, one path a line under `folder`: `Ok` with
    /// what came back when it is exactly the tree's wanted files, once
    /// each; `Err` saying what is wrong otherwise.
    fn check(&self, output: &str, folder: &str) -> std::result::Result<String, String> {
        let want = tree::tree_files(self.wanted);
        let prefix = format!("{folder}/");
        let lines: Vec<&str> = output
            .lines()
            .map(|line| line.strip_prefix(&prefix).unwrap_or(line))
            .collect();
        let got: BTreeSet<&str> = lines.iter().copied().collect();
        if lines.len() == got.len() && got.iter().copied().eq(want.iter().map(String::as_str)) {
            return Ok(format!("{} files", thousands(lines.len())));
        }
        let mut message = format!(
            "{} lines ({} distinct) instead of {} files",
            thousands(lines.len()),
            thousands(got.len()),
            thousands(want.len())
        );
        if let Some(stray) = got.iter().find(|path| !want.contains(**path)) {
            message.push_str(&format!("; {stray:?} is not one of them"));
        }
        if let Some(lost) = want.iter().find(|path| !got.contains(path.as_str())) {
            message.push_str(&format!("; {lost:?} is missing"));
        }
        Err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree's folder as a tool would print it in these tests.
    const FOLDER: &str = "/tmp/x/tree";

    /// The expected output of `baseline`: every wanted file under
    /// [`FOLDER`], one a line.
    fn right(baseline: &Baseline) -> Vec<String> {
        tree::tree_files(baseline.wanted)
            .into_iter()
            .map(|path| format!("{FOLDER}/{path}"))
            .collect()
    }

    /// A tool's output listing exactly the wanted files, in any order, is
    /// counted; one missing, one repeated or one stray file is not.
    #[test]
    fn check_takes_exactly_the_wanted_files() {
        for baseline in BASELINES {
            let mut lines = right(baseline);
            let want = lines.len();
            lines.reverse();
            let counted = baseline.check(&lines.join("\n"), FOLDER);
            assert_eq!(counted, Ok(format!("{want} files")), "{}", baseline.shown());
            let mut short = lines.clone();
            short.pop();
            let mut repeated = lines.clone();
            repeated.push(lines[0].clone());
            let mut stray = lines.clone();
            stray[0] = format!("{FOLDER}/d00/e0/stray");
            for wrong in [short, repeated, stray] {
                assert!(baseline.check(&wrong.join("\n"), FOLDER).is_err());
            }
        }
    }

    /// The counts the servers' answers are checked against are the
    /// tools' file sets: 100 `*.rs` files, 101 holding the needle.
    #[test]
    fn wanted_files_are_the_counts_servers_are_checked_against() {
        assert_eq!(tree::tree_files(tree::is_rust).len(), tree::RUST_FILES);
        assert_eq!(
            tree::tree_files(tree::holds_needle).len(),
            tree::NEEDLE_FILES
        );
    }

    /// The report shows the tree as `TREE` and quotes the glob.
    #[test]
    fn shown_quotes_the_glob_and_names_the_tree() {
        let shown: Vec<String> = BASELINES.iter().map(Baseline::shown).collect();
        assert_eq!(
            shown,
            [
                "find TREE -name '*.rs' -type f",
                "rg --files-with-matches --fixed-strings needle_ TREE"
            ]
        );
    }
}
