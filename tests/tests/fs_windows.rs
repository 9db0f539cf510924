//! Windows path classes, end to end. Against the Windows build (run under
//! Wine by scripts/test-platforms.sh: `MOAT_FS_BIN=.../moat-fs.exe
//! MOAT_BIN_WRAPPER=wine`) each class is handled or refused with its
//! reason; against a Unix build the same names are ordinary names, and the
//! tests check that instead. Either way nothing outside the root is read
//! or changed.

use moat_tests::{
    Era, Session, Transport,
    fixture::{SECRET, Tree},
    is_error, on_drive_z, text,
};
use serde_json::json;

/// True when the server under test is the Windows build.
fn windows_server() -> bool {
    std::env::var_os("MOAT_FS_BIN").is_some_and(|path| {
        std::path::Path::new(&path)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("exe"))
    })
}

async fn start(tree: &Tree, extra: &[&str]) -> Session {
    let root = tree.root_arg();
    let mut args = vec![root.as_str()];
    args.extend(extra);
    Session::start("moat-fs", &args, Transport::Stdio, Era::Handshake)
        .await
        .expect("moat-fs starts")
}

/// Device names, streams, short names, trailing dots and spaces, device
/// and odd verbatim paths are refused on Windows with their reason (and
/// nothing is written); on Unix the plain names are plain files.
#[tokio::test]
async fn windows_only_names_are_refused_there_with_their_reason() {
    let tree = Tree::new();
    let before = tree.outside_snapshot();
    let session = start(&tree, &[]).await;
    for (name, reason) in [
        ("nul.txt", "device names"),
        ("CON", "device names"),
        ("com1.log", "device names"),
        ("LPT9", "device names"),
        ("hello.txt:hidden", "data streams"),
        ("hello.txt::$DATA", "data streams"),
        ("PROGRA~1", "short names"),
        ("notes.txt.", "dot or a space"),
        ("notes.txt ", "dot or a space"),
        ("what?.txt", "never allows"),
    ] {
        let result = session
            .call("write_file", json!({"path": name, "content": "x"}))
            .await
            .expect("call");
        if windows_server() {
            assert!(is_error(&result), "{name:?} was written");
            assert!(
                text(&result).contains(reason),
                "{name:?}: {}",
                text(&result)
            );
        } else {
            assert!(!is_error(&result), "{name:?}: {}", text(&result));
            assert!(tree.root.join(name).is_file(), "{name:?} not written");
        }
    }
    for path in [
        "\\\\.\\pipe\\moat",
        "\\\\?\\GLOBALROOT\\Device\\Null",
        "\\\\.\\PhysicalDrive0",
    ] {
        let result = session
            .call("read_text_file", json!({"path": path}))
            .await
            .expect("call");
        assert!(is_error(&result), "{path:?} was read");
        if windows_server() {
            assert!(
                text(&result).contains("paths (\\\\"),
                "{path:?}: {}",
                text(&result)
            );
        }
    }
    assert_eq!(tree.outside_snapshot(), before);
}

/// On Windows the root is found whatever the drive letter's case, the
/// names' case or the separators; a verbatim `\\?\` prefix is the same
/// path. A sibling whose name extends the root's, `..` out and another
/// drive stay outside.
#[tokio::test]
async fn windows_spellings_of_a_root_path_resolve_inside_it() {
    let tree = Tree::new();
    let session = start(&tree, &[]).await;
    let root = tree.root_arg();
    let (inside, outside): (Vec<String>, Vec<String>) = if windows_server() {
        let windows = on_drive_z(&root);
        let lower_drive = format!("z{}", &windows[1..]);
        (
            vec![
                format!("{windows}\\hello.txt"),
                format!("{lower_drive}\\HELLO.TXT"),
                format!("{}/sub\\..\\hello.txt", windows.to_uppercase()),
                format!("\\\\?\\{windows}\\hello.txt"),
                format!("{}\\hello.txt", root.replace('/', "\\")),
            ],
            vec![
                format!(
                    "{}\\secret.txt",
                    on_drive_z(&tree.sibling.to_string_lossy())
                ),
                format!("{windows}\\..\\outside\\secret.txt"),
                format!("Y{}\\hello.txt", &windows[1..]),
                format!("\\\\server\\share\\{}\\hello.txt", &windows[3..]),
                "C:hello.txt".to_string(),
            ],
        )
    } else {
        (
            vec![
                format!("{root}/hello.txt"),
                format!("{root}/sub/../hello.txt"),
            ],
            vec![
                format!("{}/secret.txt", tree.sibling.display()),
                format!("{}/hello.txt", root.to_uppercase()),
            ],
        )
    };
    for path in inside {
        let result = session
            .call("read_text_file", json!({"path": path}))
            .await
            .expect("call");
        assert_eq!(text(&result), "hello\nworld\n", "{path}");
    }
    for path in outside {
        let result = session
            .call("read_text_file", json!({"path": path}))
            .await
            .expect("call");
        assert!(is_error(&result), "{path} was read");
        assert!(!text(&result).contains(SECRET), "{path}");
    }
}

/// A deny glob hides a file in any case where names ignore case
/// (Windows): `.ENV` is `.env` there.
#[tokio::test]
async fn deny_globs_ignore_case_where_names_do() {
    let tree = Tree::new();
    std::fs::write(tree.root.join(".env"), "TOKEN=1").expect("write");
    let session = start(&tree, &["--deny", "**/.env"]).await;
    let exact = session
        .call("read_text_file", json!({"path": ".env"}))
        .await
        .expect("call");
    assert!(is_error(&exact), "{}", text(&exact));
    let upper = session
        .call("read_text_file", json!({"path": ".ENV"}))
        .await
        .expect("call");
    assert!(is_error(&upper), "{}", text(&upper));
    if windows_server() {
        assert!(text(&upper).contains("denied"), "{}", text(&upper));
    }
    assert!(!text(&upper).contains("TOKEN"));
}

/// A UTF-16 file with a BOM reads as text, and the result says so; a
/// Latin-1 file reads with the detected encoding (every OS).
#[tokio::test]
async fn utf16_and_latin1_files_read_as_text_and_say_their_encoding() {
    let tree = Tree::new();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "Grüße\r\nzweite Zeile\r\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    std::fs::write(tree.root.join("utf16.txt"), utf16).expect("write");
    std::fs::write(tree.root.join("latin1.txt"), b"caf\xE9\n").expect("write");
    let session = start(&tree, &[]).await;
    let result = session
        .call("read_text_file", json!({"path": "utf16.txt", "head": 1}))
        .await
        .expect("call");
    let shown = text(&result);
    assert!(shown.starts_with("Grüße\r\n"), "{shown}");
    assert!(!shown.contains("zweite"), "{shown}");
    assert!(shown.contains("UTF-16LE"), "{shown}");
    let result = session
        .call("read_text_file", json!({"path": "latin1.txt"}))
        .await
        .expect("call");
    assert!(text(&result).starts_with("café\n"), "{}", text(&result));
    assert!(text(&result).contains("windows-1252"), "{}", text(&result));
    let result = session
        .call(
            "read_text_file",
            json!({"path": "latin1.txt", "encoding": "klingon"}),
        )
        .await
        .expect("call");
    assert!(
        text(&result).contains("unknown encoding"),
        "{}",
        text(&result)
    );
}

/// move_file never replaces an existing file (Windows: hard link, then
/// unlink), and moves to a free name.
#[tokio::test]
async fn move_file_never_replaces_on_any_os() {
    let tree = Tree::new();
    std::fs::write(tree.root.join("other.txt"), "other").expect("write");
    let session = start(&tree, &[]).await;
    let result = session
        .call(
            "move_file",
            json!({"source": "hello.txt", "destination": "other.txt"}),
        )
        .await
        .expect("call");
    assert!(
        text(&result).contains("already exists"),
        "{}",
        text(&result)
    );
    assert_eq!(
        std::fs::read_to_string(tree.root.join("other.txt")).expect("read"),
        "other"
    );
    let result = session
        .call(
            "move_file",
            json!({"source": "hello.txt", "destination": "sub/moved.txt"}),
        )
        .await
        .expect("call");
    assert!(!is_error(&result), "{}", text(&result));
    assert!(!tree.root.join("hello.txt").exists());
    assert_eq!(
        std::fs::read_to_string(tree.root.join("sub/moved.txt")).expect("read"),
        "hello\nworld\n"
    );
}

/// The roots as a client on this OS may spell them, each with the
/// separator its results must use: on Windows `Z:\...` (gets `\`) and the
/// `/` spelling (gets `/`); elsewhere the `/` spelling only.
fn spelled_roots(tree: &Tree) -> Vec<(String, char)> {
    let root = tree.root_arg();
    if windows_server() {
        vec![(on_drive_z(&root), '\\'), (root, '/')]
    } else {
        vec![(root, '/')]
    }
}

/// Regression (Wine run): search_files and search_file_contents joined
/// the client's base and the walk's relative path with mixed separators
/// on Windows (`Z:\tmp\project/sub\inner.txt`); every result path now
/// uses the separator of the base the client gave, whole file or tree.
#[tokio::test]
async fn search_result_paths_use_the_separator_of_the_given_base() {
    let tree = Tree::new();
    let session = start(&tree, &[]).await;
    for (base, separator) in spelled_roots(&tree) {
        let other = if separator == '/' { '\\' } else { '/' };
        let inner = format!("{base}{separator}sub{separator}inner.txt");
        let found = session
            .call("search_files", json!({"path": base, "pattern": "*.txt"}))
            .await
            .expect("call");
        assert!(text(&found).contains(&inner), "{base}: {}", text(&found));
        let grep = session
            .call(
                "search_file_contents",
                json!({"path": base, "query": "inner"}),
            )
            .await
            .expect("call");
        assert!(
            text(&grep).contains(&format!("{inner}:1:1: inner")),
            "{base}: {}",
            text(&grep)
        );
        let one_file = format!("{base}{separator}hello.txt");
        let single = session
            .call(
                "search_file_contents",
                json!({"path": one_file, "query": "world"}),
            )
            .await
            .expect("call");
        assert!(
            text(&single).contains(&format!("{one_file}:2:1: world")),
            "{one_file}: {}",
            text(&single)
        );
        for result in [&found, &grep, &single] {
            let shown = text(result);
            assert!(
                !shown.contains(&format!("sub{other}inner")),
                "{base}: mixed separators in {shown}"
            );
        }
    }
}

/// Regression (Wine run): reading a directory as a file said "permission
/// denied" on Windows (the OS refuses to open a directory as a file with
/// access denied); it says "is a directory" there as on Linux and macOS.
#[tokio::test]
async fn reading_a_directory_says_is_a_directory_on_every_os() {
    let tree = Tree::new();
    let session = start(&tree, &[]).await;
    for (tool, arguments) in [
        ("read_text_file", json!({"path": "sub"})),
        ("read_media_file", json!({"path": "sub"})),
    ] {
        let result = session.call(tool, arguments).await.expect("call");
        assert!(is_error(&result), "{tool}: a directory was read");
        assert!(
            text(&result).contains("is a directory: sub"),
            "{tool}: {}",
            text(&result)
        );
    }
}
