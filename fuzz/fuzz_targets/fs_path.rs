//! Fuzz target: path resolution inside a root (`moat_fs::root`).
//!
//! Input: a client path. `@ROOT@` in it becomes the root's absolute path
//! and `@BASE@` the directory holding the root, so seeds can name absolute
//! paths inside and beside the (random) temporary root. An input starting
//! with `file:` is also tried as a client root URI (`Roots::narrowed`).
//!
//! The layout, made once:
//! ```text
//! <base>/root/                    the served root (read-only), deny glob `private`
//!         inside.txt              "INSIDE"
//!         sub/inner.txt           "INNER"
//!         sub/up -> ../..         relative symlink climbing out
//!         private/key.txt         DENIED-MARKER (hidden by the deny glob)
//!         alias -> private        a symlink inside the root to the hidden dir
//!         key_link -> private/key.txt
//!         link_out -> <base>/outside (absolute symlink out)
//!         rel_out -> ../outside   (relative symlink out)
//! <base>/root-sibling/secret.txt  OUTSIDE-MARKER (a sibling sharing the prefix)
//! <base>/outside/secret.txt       OUTSIDE-MARKER
//! ```
//!
//! Invariants:
//! - `resolve` never panics; what it returns is relative, normalised (no
//!   `..`, no root) and not matched by a deny glob;
//! - absolute paths resolve only when they lie inside the root by whole
//!   components (`root-sibling` never resolves);
//! - reading, listing or canonicalising through the resolved target never
//!   reaches a file outside the root (`OUTSIDE-MARKER`) nor a file the deny
//!   glob hides (`DENIED-MARKER`);
//! - every narrowed client root lies inside the configured root and is not
//!   denied.
#![no_main]

use std::{
    io::Read,
    path::{Component, Path, PathBuf},
    sync::OnceLock,
};

use globset::{Glob, GlobSet, GlobSetBuilder};
use libfuzzer_sys::fuzz_target;
use moat_fs::{ClientTrust, Roots};
use moat_shared::policy::Mode;

const OUTSIDE_MARKER: &str = "OUTSIDE-MARKER";
const DENIED_MARKER: &str = "DENIED-MARKER";

struct Fixture {
    /// Kept alive for the whole run; removed at exit.
    _temp: tempfile::TempDir,
    base: String,
    root: PathBuf,
    roots: Roots,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let temp = tempfile::tempdir().expect("tempdir");
        let base = temp.path().to_path_buf();
        let root = base.join("root");
        let write = |path: PathBuf, text: &str| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(root.join("inside.txt"), "INSIDE");
        write(root.join("sub/inner.txt"), "INNER");
        write(root.join("private/key.txt"), DENIED_MARKER);
        write(base.join("outside/secret.txt"), OUTSIDE_MARKER);
        write(base.join("root-sibling/secret.txt"), OUTSIDE_MARKER);
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).expect("symlink");
        };
        link("../..", "sub/up");
        link("private", "alias");
        link("private/key.txt", "key_link");
        link(&base.join("outside").to_string_lossy(), "link_out");
        link("../outside", "rel_out");
        let mut deny = GlobSetBuilder::new();
        deny.add(Glob::new("private").expect("glob"));
        let deny: GlobSet = deny.build().expect("globset");
        let roots =
            Roots::open(&[(root.to_string_lossy().into_owned(), Mode::Ro)], deny).expect("roots");
        let canonical = roots.all()[0].canonical.clone();
        Fixture {
            base: base.to_string_lossy().into_owned(),
            root: canonical,
            _temp: temp,
            roots,
        }
    })
}

fuzz_target!(|input: &str| {
    let fixture = fixture();
    let root_text = fixture.root.to_string_lossy();
    let path = input
        .replace("@ROOT@", &root_text)
        .replace("@BASE@", &fixture.base);

    if let Ok(target) = fixture.roots.resolve(&path) {
        let rel = &target.rel;
        assert!(
            rel.components()
                .all(|component| matches!(component, Component::Normal(_) | Component::CurDir)),
            "{path:?} resolved to {rel:?}"
        );
        assert!(
            !fixture.roots.is_denied(target.root, rel),
            "{path:?} resolved to the denied {rel:?}"
        );
        if Path::new(&path).is_absolute() && !path.starts_with('~') {
            assert!(
                Path::new(&path).starts_with(&fixture.root),
                "{path:?}: absolute path outside the root resolved"
            );
        }
        // Whatever cap-std lets us reach through it stays inside and visible.
        if let Ok((file, _)) = target.open_regular() {
            let mut text = String::new();
            let _ = file.take(64).read_to_string(&mut text);
            assert!(
                !text.contains(OUTSIDE_MARKER),
                "{path:?} read a file outside the root"
            );
            assert!(
                !text.contains(DENIED_MARKER),
                "{path:?} read a file the policy denies"
            );
        }
        if let Ok(resolved) = target.root.dir.canonicalize(rel) {
            assert!(
                resolved.is_relative(),
                "{path:?} canonicalised to {resolved:?}"
            );
        }
        if let Ok(entries) = target.root.dir.read_dir(rel) {
            for entry in entries.flatten().take(16) {
                let name = entry.file_name();
                assert!(
                    name != "secret.txt" && name != "key.txt",
                    "{path:?} listed {name:?}, outside the root or denied"
                );
            }
        }
    }

    if path.starts_with("file:") {
        let narrowed = fixture
            .roots
            .narrowed(&[path.clone()], ClientTrust::Trusted(Mode::Rw));
        for root in narrowed.all() {
            assert!(
                root.canonical.starts_with(&fixture.root),
                "{path:?}: client root {:?} outside the configured root",
                root.canonical
            );
            assert_eq!(root.mode, Mode::Ro, "{path:?}: narrowing widened the mode");
            assert!(
                root.dir.open("key.txt").is_err() && root.dir.open("secret.txt").is_err(),
                "{path:?}: client root is a denied or outside directory"
            );
        }
    }
});
