//! No module imports a module that imports it back, in any crate.
//!
//! A module is a source file. Module A depends on module B when A names a
//! path (in a `use` or inline: `crate::`, `super::`, `self::`, or a child
//! module's name) that resolves to B's file. Inline `#[cfg(test)]` modules
//! at the end of a file are left out: a test module reaching into its parent
//! is not a layering choice. The check reads the sources as text, so it runs
//! in a second and needs no build of the crates it checks.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The crate roots checked: every library's `src/lib.rs`, and each binary
/// root that declares modules of its own (the other binaries' roots
/// declare none).
const CRATE_ROOTS: &[&str] = &[
    "shared/src/lib.rs",
    "servers/fs/src/lib.rs",
    "servers/scrape/src/lib.rs",
    "tests/src/lib.rs",
    "benches/src/lib.rs",
    "benches/src/compare/main.rs",
    "tests/src/bin/moat-conformance-fixture/main.rs",
];

/// The workspace directory (this crate lives in `tests/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The directory a module's children live in.
fn child_dir(file: &Path) -> PathBuf {
    let parent = file.parent().expect("a module file has a directory");
    match file.file_name().and_then(|name| name.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => parent.to_path_buf(),
        _ => parent.join(file.file_stem().expect("a module file has a stem")),
    }
}

/// The file of child module `name` of `file`, when there is one.
fn child(file: &Path, name: &str) -> Option<PathBuf> {
    let dir = child_dir(file);
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|candidate| candidate.is_file())
}

/// The module file that contains `file` (`None` at the crate root).
fn parent(file: &Path, root: &Path) -> Option<PathBuf> {
    if file == root {
        return None;
    }
    let dir = file.parent()?;
    let dir = if file.file_name().and_then(|name| name.to_str()) == Some("mod.rs") {
        dir.parent()?
    } else {
        dir
    };
    let root_dir = root.parent()?;
    if dir == root_dir {
        return Some(root.to_path_buf());
    }
    let as_file = dir.with_extension("rs");
    if as_file.is_file() {
        Some(as_file)
    } else {
        Some(dir.join("mod.rs"))
    }
}

/// The source without comments and without the trailing test module.
fn code(text: &str) -> String {
    let text = test_module_start(text).map_or(text, |at| &text[..at]);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        // A `//` after code is a comment unless it sits in a string
        // (a URL); cutting at `://` would lose nothing this check reads.
        let line = match line.find(" //") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Where an inline `#[cfg(test)] mod name {` starts (attributes between
/// the two lines allowed), when the file has one.
fn test_module_start(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut candidate = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            candidate = candidate.or(Some(offset));
        } else if let Some(start) = candidate {
            let is_mod = trimmed.starts_with("mod ") || trimmed.starts_with("pub mod ");
            if is_mod && trimmed.ends_with('{') {
                return Some(start);
            }
            if !trimmed.starts_with("#[") {
                candidate = None;
            }
        }
        offset += line.len();
    }
    None
}

/// Every path a `use` tree names, expanded (`a::{b, c::d}` gives `a::b`
/// and `a::c::d`).
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        if !path.is_empty() {
            out.push(join(prefix, path));
        }
        return;
    };
    let head = tree[..open].trim().trim_end_matches("::");
    let close = tree.rfind('}').filter(|close| *close > open);
    let inner = &tree[open + 1..close.unwrap_or(tree.len())];
    let base = join(prefix, head);
    let mut depth = 0;
    let mut start = 0;
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&base, &inner[start..index], out);
                start = index + 1;
            }
            _ => {}
        }
    }
    expand(&base, &inner[start..], out);
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}::{path}"),
    }
}

/// The paths a module names: its `use` trees and inline paths from
/// `crate::`, `super::`, `self::` or one of `anchors` (child modules and
/// imported names).
fn named_paths(code: &str, anchors: &[String]) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let statement_start = before.is_none_or(|c| c.is_whitespace() || c == ';' || c == '}');
        let after = &rest[at + 4..];
        let Some(end) = after.find(';') else { break };
        if statement_start {
            expand("", &after[..end], &mut paths);
        }
        rest = &after[end..];
    }
    let anchors = ["crate", "super", "self"]
        .into_iter()
        .map(str::to_string)
        .chain(anchors.iter().cloned())
        .map(|name| format!("{name}::"));
    for anchor in anchors {
        let mut rest = code;
        while let Some(at) = rest.find(&anchor) {
            let before = rest[..at].chars().last();
            let path: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                paths.push(path.trim_end_matches(':').to_string());
            }
            rest = &rest[at + anchor.len()..];
        }
    }
    paths
}

/// The names a module re-exports (`pub use a::B;` and `pub use a::{B, C}`),
/// each with the path it names, so that importing `crate::B` counts as
/// importing `a`, the module that defines it.
fn reexports(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let code = code(&text);
    let mut paths = Vec::new();
    for statement in code.split(';') {
        if let Some(tree) = statement.trim().strip_prefix("pub use ") {
            expand("", tree, &mut paths);
        }
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let name = path.rsplit("::").next()?.to_string();
            Some((name, path))
        })
        .collect()
}

/// The module file a path leads to, from module `file` in the crate rooted
/// at `root`; `None` for paths into other crates. A name a module
/// re-exports leads on to where it comes from.
fn resolve(path: &str, file: &Path, root: &Path) -> Option<PathBuf> {
    resolve_within(path, file, root, 0)
}

/// How many re-exports one path may pass through: a facade over a facade
/// is already unusual.
const MAX_REEXPORT_HOPS: usize = 4;

fn resolve_within(path: &str, file: &Path, root: &Path, hops: usize) -> Option<PathBuf> {
    let mut segments = path.split("::").filter(|segment| !segment.is_empty());
    let first = segments.next()?;
    let mut at = match first {
        "crate" => root.to_path_buf(),
        "self" => file.to_path_buf(),
        "super" => parent(file, root)?,
        name => child(file, name)?,
    };
    for segment in segments {
        match segment {
            "super" => at = parent(&at, root)?,
            "self" => {}
            name => {
                if let Some(next) = child(&at, name) {
                    at = next;
                    continue;
                }
                let source = reexports(&at).remove(name);
                return match source {
                    Some(source) if hops < MAX_REEXPORT_HOPS => {
                        resolve_within(&source, &at, root, hops + 1).or(Some(at))
                    }
                    _ => Some(at),
                };
            }
        }
    }
    Some(at)
}

/// Every module of the crate rooted at `root`, with the modules it names.
fn graph(root: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut graph = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(file) = pending.pop() {
        if graph.contains_key(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let code = code(&text);
        // Declared child modules are walked, but declaring is not using.
        let mut children = Vec::new();
        for line in code.lines() {
            let line = line.trim();
            let declared = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(name) = declared
                && let Some(found) = child(&file, name)
            {
                pending.push(found);
                children.push(name.to_string());
            }
        }
        let ancestors: Vec<PathBuf> =
            std::iter::successors(parent(&file, root), |up| parent(up, root)).collect();
        // A module reading its ancestors' items (`super::helper`, the crate's
        // error type) is the namespace it lives in, not a layer it calls.
        // Names brought in by `use` (`use crate::tool;` then `tool::x`).
        let mut imported = Vec::new();
        for statement in code.split(';') {
            if let Some(at) = statement.find("use ") {
                expand("", &statement[at + 4..], &mut imported);
            }
        }
        let imports: BTreeMap<String, String> = imported
            .into_iter()
            .filter(|path| path.starts_with("crate::") || path.starts_with("super::"))
            .filter_map(|path| Some((path.rsplit("::").next()?.to_string(), path)))
            .collect();
        let anchors: Vec<String> = children.iter().chain(imports.keys()).cloned().collect();
        let edges: BTreeSet<PathBuf> = named_paths(&code, &anchors)
            .iter()
            .map(|path| {
                let (first, rest) = path.split_once("::").unwrap_or((path, ""));
                match imports.get(first) {
                    Some(full) if child(&file, first).is_none() => join(full, rest),
                    _ => path.clone(),
                }
            })
            .filter_map(|path| resolve(&path, &file, root))
            .filter(|target| *target != file && !ancestors.contains(target))
            .collect();
        graph.insert(file, edges);
    }
    graph
}

/// The first cycle found, as the modules along it.
fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        marks: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|entry| entry == node)?;
                let mut cycle = stack[from..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// No two modules of any moat crate import each other, directly or around
/// a longer loop.
#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let workspace = workspace();
    let mut cycles = Vec::new();
    for root in CRATE_ROOTS {
        let root = workspace.join(root);
        let graph = graph(&root);
        assert!(graph.len() > 1, "{} declares no modules", root.display());
        for (from, targets) in &graph {
            for to in targets {
                if from < to && graph.get(to).is_some_and(|back| back.contains(from)) {
                    let show = |file: &PathBuf| {
                        file.strip_prefix(&workspace)
                            .unwrap_or(file)
                            .display()
                            .to_string()
                    };
                    cycles.push(format!("{} <-> {}", show(from), show(to)));
                }
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            let names: Vec<String> = cycle
                .iter()
                .map(|file| {
                    file.strip_prefix(&workspace)
                        .unwrap_or(file)
                        .display()
                        .to_string()
                })
                .collect();
            cycles.push(names.join(" -> "));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

/// The checker itself sees a cycle: `a` naming `b` and `b` naming `a` in a
/// scratch crate is reported.
#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("b")).expect("src/b");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("lib.rs");
    std::fs::write(src.join("a.rs"), "use crate::b::{inner::Thing, Other};\n").expect("a.rs");
    std::fs::write(src.join("b/mod.rs"), "pub mod inner;\npub struct Other;\n").expect("b");
    std::fs::write(
        src.join("b/inner.rs"),
        "pub struct Thing(super::super::a::A);\n",
    )
    .expect("inner");
    let graph = graph(&src.join("lib.rs"));
    let cycle = find_cycle(&graph).expect("the planted cycle is found");
    assert!(cycle.contains(&src.join("a.rs")), "{cycle:?}");
    assert!(cycle.contains(&src.join("b/inner.rs")), "{cycle:?}");
}
