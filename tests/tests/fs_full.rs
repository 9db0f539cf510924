//! moat-fs's full tool set through the real binary: each tool's behaviour,
//! its bad arguments, and its budget cut with continuation.

use std::{fs, os::unix::fs::symlink, path::Path};

use moat_tests::{ERAS, Era, Session, TRANSPORTS, Transport, fixture::Tree, is_error, text};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};

/// Start moat-fs over stdio on `root` with extra arguments.
async fn start(root: &Path, extra: &[&str]) -> Session {
    let root = root.to_string_lossy().into_owned();
    let mut args = vec![root.as_str()];
    args.extend_from_slice(extra);
    Session::start("moat-fs", &args, Transport::Stdio, Era::Handshake)
        .await
        .expect("start moat-fs")
}

/// Write a policy file with an `[fs]` section into the tree's temp dir.
/// `[fs]` lines that offer delete_file and let it act for a client that
/// cannot confirm (the default refuses; fs_confirm tests that).
const DELETE_WITHOUT_ASKING: &str = "allow_delete = true\n[fs.confirm]\ndelete = \"allow\"";

fn policy(tree: &Tree, fs_section: &str) -> String {
    let path = tree.temp.path().join("policy.toml");
    fs::write(&path, format!("[fs]\n{fs_section}\n")).expect("policy");
    path.to_string_lossy().into_owned()
}

async fn ok(session: &Session, tool: &str, arguments: Value) -> CallToolResult {
    let result = session.call(tool, arguments.clone()).await.expect("call");
    assert!(!is_error(&result), "{tool} {arguments}: {}", text(&result));
    result
}

async fn fails(session: &Session, tool: &str, arguments: Value) -> String {
    let result = session.call(tool, arguments.clone()).await.expect("call");
    assert!(
        is_error(&result),
        "{tool} {arguments} should fail: {}",
        text(&result)
    );
    let message = text(&result);
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

const ALL_TOOLS: [&str; 16] = [
    "read_text_file",
    "read_file",
    "read_media_file",
    "read_multiple_files",
    "write_file",
    "edit_file",
    "create_directory",
    "list_directory",
    "list_directory_with_sizes",
    "directory_tree",
    "move_file",
    "copy_file",
    "search_files",
    "search_file_contents",
    "get_file_info",
    "list_allowed_directories",
];

/// Every tool is listed with a title, closed-world annotations and an
/// output schema; delete_file only when the policy allows deletion.
#[tokio::test(flavor = "multi_thread")]
async fn tools_are_listed_with_full_metadata() {
    let tree = Tree::new();
    let session = start(&tree.root, &[]).await;
    let tools = session.client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|tool| tool.name.to_string()).collect();
    for name in ALL_TOOLS {
        assert!(names.contains(&name.to_string()), "{name} missing");
    }
    assert!(!names.contains(&"delete_file".to_string()));
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.open_world_hint, Some(false), "{}", tool.name);
        assert!(annotations.read_only_hint.is_some(), "{}", tool.name);
        assert!(tool.title.is_some(), "{} has no title", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
        assert!(
            tool.description
                .as_ref()
                .is_some_and(|text| text.len() > 60),
            "{} description",
            tool.name
        );
    }
    let edit = tools
        .iter()
        .find(|tool| tool.name == "edit_file")
        .expect("edit_file");
    let annotations = edit.annotations.as_ref().expect("annotations");
    assert_eq!(annotations.read_only_hint, Some(false));
    assert_eq!(annotations.destructive_hint, Some(true));

    let allow = policy(&tree, DELETE_WITHOUT_ASKING);
    let session = start(&tree.root, &["--policy", &allow]).await;
    let tools = session.client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|tool| tool.name == "delete_file"));
    let read_only = start(&tree.root, &["--policy", &allow, "--read-only"]).await;
    let tools = read_only.client.list_all_tools().await.expect("tools/list");
    for hidden in [
        "delete_file",
        "write_file",
        "edit_file",
        "create_directory",
        "copy_file",
    ] {
        assert!(
            !tools.iter().any(|tool| tool.name == hidden),
            "{hidden} listed read-only"
        );
    }
}

/// Each new tool answers over stdio and HTTP in both eras, with the same
/// result as text and as structured content.
#[tokio::test(flavor = "multi_thread")]
async fn new_tools_over_every_transport_and_era() {
    for transport in TRANSPORTS {
        for era in ERAS {
            let tree = Tree::new();
            let session = Session::start("moat-fs", &[&tree.root_arg()], transport, era)
                .await
                .expect("start");
            let label = format!("{transport:?}/{era:?}");
            let calls = [
                (
                    "read_multiple_files",
                    json!({"paths": ["hello.txt", "sub/inner.txt"]}),
                ),
                (
                    "edit_file",
                    json!({"path": "hello.txt", "edits": [{"oldText": "world", "newText": "there"}]}),
                ),
                ("create_directory", json!({"path": "made/deep"})),
                ("list_directory_with_sizes", json!({"path": "."})),
                ("directory_tree", json!({"path": "."})),
                ("search_files", json!({"path": ".", "pattern": "*.txt"})),
                (
                    "search_file_contents",
                    json!({"path": ".", "query": "inner"}),
                ),
                ("get_file_info", json!({"path": "hello.txt"})),
                ("list_allowed_directories", json!({})),
                (
                    "copy_file",
                    json!({"source": "hello.txt", "destination": "copy.txt"}),
                ),
            ];
            for (tool, arguments) in calls {
                let result = session.call(tool, arguments.clone()).await.expect("call");
                assert!(!is_error(&result), "{label} {tool}: {}", text(&result));
                let value = structured(&result);
                assert!(value["content"].is_string(), "{label} {tool}: {value}");
                let shown = text(&result);
                let content = value["content"].as_str().unwrap_or_default();
                assert!(
                    shown.contains(content.trim()),
                    "{label} {tool}: text and structured differ"
                );
            }
            assert_eq!(
                fs::read_to_string(tree.root.join("hello.txt")).expect("read"),
                "hello\nthere\n"
            );
            assert!(tree.root.join("made/deep").is_dir());
            assert_eq!(
                fs::read_to_string(tree.root.join("copy.txt")).expect("read"),
                "hello\nthere\n"
            );
            let _ = session.client.cancel().await;
        }
    }
}

/// edit_file: exact, unique, literal, diff, dry run, replaceAll, whitespace
/// fallback with indentation, CRLF kept, clear errors naming the edit.
#[tokio::test(flavor = "multi_thread")]
async fn edit_file_behaviour_and_errors() {
    let tree = Tree::new();
    let file = tree.root.join("code.rs");
    fs::write(
        &file,
        "fn main() {\n    let price = 1;\n    println!(\"{}\", price);\n}\n",
    )
    .expect("write");
    let session = start(&tree.root, &[]).await;

    let dry = ok(
        &session,
        "edit_file",
        json!({"path": "code.rs", "dryRun": true,
        "edits": [{"oldText": "let price = 1;", "newText": "let price = $1.00;"}]}),
    )
    .await;
    let diff = text(&dry);
    assert!(
        diff.contains("-    let price = 1;") && diff.contains("+    let price = $1.00;"),
        "{diff}"
    );
    assert!(diff.contains("dry run"), "{diff}");
    assert_eq!(structured(&dry)["applied"], false);
    assert!(
        fs::read_to_string(&file)
            .expect("read")
            .contains("let price = 1;"),
        "dry run wrote"
    );

    ok(
        &session,
        "edit_file",
        json!({"path": "code.rs",
        "edits": [{"oldText": "let price = 1;", "newText": "let price = $1.*;"}]}),
    )
    .await;
    assert!(
        fs::read_to_string(&file)
            .expect("read")
            .contains("let price = $1.*;")
    );

    // Ambiguous: `price` appears twice.
    let message = fails(&session, "edit_file", json!({"path": "code.rs",
        "edits": [{"oldText": "fn main", "newText": "fn start"}, {"oldText": "price", "newText": "cost"}]})).await;
    assert!(
        message.contains("edit 2 of 2") && message.contains("matches 2 places"),
        "{message}"
    );
    assert!(
        fs::read_to_string(&file).expect("read").contains("fn main"),
        "a failed call wrote the first edit"
    );
    ok(
        &session,
        "edit_file",
        json!({"path": "code.rs",
        "edits": [{"oldText": "price", "newText": "cost", "replaceAll": true}]}),
    )
    .await;
    assert!(!fs::read_to_string(&file).expect("read").contains("price"));

    // Whitespace-tolerant fallback keeps the file's indentation.
    ok(&session, "edit_file", json!({"path": "code.rs",
        "edits": [{"oldText": "let   cost = $1.*;\nprintln!(\"{}\", cost);", "newText": "let cost = 2;\nif cost > 1 {\n    println!(\"{}\", cost);\n}"}]})).await;
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        "fn main() {\n    let cost = 2;\n    if cost > 1 {\n        println!(\"{}\", cost);\n    }\n}\n"
    );

    // Missing: names the edit and the nearest line.
    let message = fails(
        &session,
        "edit_file",
        json!({"path": "code.rs",
        "edits": [{"oldText": "let cost = 3;", "newText": "x"}]}),
    )
    .await;
    assert!(
        message.contains("edit 1 of 1") && message.contains("line 2"),
        "{message}"
    );

    // CRLF stays CRLF.
    fs::write(tree.root.join("win.txt"), "one\r\ntwo\r\nthree\r\n").expect("write");
    ok(
        &session,
        "edit_file",
        json!({"path": "win.txt",
        "edits": [{"oldText": "two\nthree", "newText": "2\n3"}]}),
    )
    .await;
    assert_eq!(
        fs::read_to_string(tree.root.join("win.txt")).expect("read"),
        "one\r\n2\r\n3\r\n"
    );

    // Bad arguments.
    fails(&session, "edit_file", json!({"path": "code.rs"})).await;
    fails(
        &session,
        "edit_file",
        json!({"path": "code.rs", "edits": []}),
    )
    .await;
    fails(
        &session,
        "edit_file",
        json!({"path": "code.rs", "edits": [{"oldText": "", "newText": "x"}]}),
    )
    .await;
    fails(
        &session,
        "edit_file",
        json!({"path": "nope.rs", "edits": [{"oldText": "a", "newText": "b"}]}),
    )
    .await;
}

/// read_media_file: images and audio with their MIME type, other files as
/// a blob resource, files over the media cap refused.
#[tokio::test(flavor = "multi_thread")]
async fn read_media_file_types_and_cap() {
    let tree = Tree::new();
    let png = b"\x89PNG\r\n\x1a\n0000";
    fs::write(tree.root.join("pic.png"), png).expect("write");
    fs::write(tree.root.join("song.mp3"), b"ID3....").expect("write");
    fs::write(tree.root.join("data.bin"), [0u8, 1, 2]).expect("write");
    fs::write(tree.root.join("big.png"), vec![0u8; 2048]).expect("write");
    let cap = policy(&tree, "max_media_bytes = 1024");
    let session = start(&tree.root, &["--policy", &cap]).await;
    let image = ok(&session, "read_media_file", json!({"path": "pic.png"})).await;
    match &image.content[0] {
        ContentBlock::Image(image) => {
            assert_eq!(image.mime_type, "image/png");
            assert_eq!(image.data, "iVBORw0KGgowMDAw");
        }
        other => panic!("not an image: {other:?}"),
    }
    let audio = ok(&session, "read_media_file", json!({"path": "song.mp3"})).await;
    assert!(
        matches!(&audio.content[0], ContentBlock::Audio(audio) if audio.mime_type == "audio/mpeg")
    );
    let blob = ok(&session, "read_media_file", json!({"path": "data.bin"})).await;
    assert!(matches!(&blob.content[0], ContentBlock::Resource(_)));
    assert_eq!(structured(&blob)["kind"], "blob");
    let message = fails(&session, "read_media_file", json!({"path": "big.png"})).await;
    assert!(message.contains("media limit"), "{message}");
    fails(&session, "read_media_file", json!({"path": "sub"})).await;
    fails(&session, "read_media_file", json!({})).await;
}

/// read_multiple_files: one failure does not fail the call; the budget is
/// shared and a cut file says how to continue.
#[tokio::test(flavor = "multi_thread")]
async fn read_multiple_files_failures_and_budget() {
    let tree = Tree::new();
    let session = start(&tree.root, &[]).await;
    let result = ok(
        &session,
        "read_multiple_files",
        json!({"paths": ["hello.txt", "missing.txt", "../outside/secret.txt", "sub/inner.txt"]}),
    )
    .await;
    let shown = text(&result);
    assert!(shown.contains("hello.txt:\nhello\nworld\n"), "{shown}");
    assert!(shown.contains("missing.txt: Error - not found"), "{shown}");
    assert!(shown.contains("sub/inner.txt:\ninner\n"), "{shown}");
    assert!(!shown.contains("TOP-SECRET"), "{shown}");
    let files = structured(&result)["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 4);
    assert!(files[1]["error"].is_string());
    fails(&session, "read_multiple_files", json!({"paths": []})).await;
    fails(
        &session,
        "read_multiple_files",
        json!({"paths": "hello.txt"}),
    )
    .await;

    fs::write(tree.root.join("long.txt"), "line\n".repeat(100)).expect("write");
    let small = start(&tree.root, &["--max-result-bytes", "50"]).await;
    let result = ok(
        &small,
        "read_multiple_files",
        json!({"paths": ["long.txt", "hello.txt"]}),
    )
    .await;
    let shown = text(&result);
    assert!(shown.contains("offset=11"), "{shown}");
    assert!(shown.contains("hello.txt: not read"), "{shown}");
}

/// create_directory makes parents, accepts an existing directory, refuses
/// a file in the way.
#[tokio::test(flavor = "multi_thread")]
async fn create_directory_behaviour() {
    let tree = Tree::new();
    let session = start(&tree.root, &[]).await;
    let made = ok(&session, "create_directory", json!({"path": "a/b/c"})).await;
    assert_eq!(structured(&made)["created"], true);
    assert!(tree.root.join("a/b/c").is_dir());
    let again = ok(&session, "create_directory", json!({"path": "a/b/c"})).await;
    assert_eq!(structured(&again)["created"], false);
    fails(&session, "create_directory", json!({"path": "hello.txt"})).await;
    fails(&session, "create_directory", json!({"path": "hello.txt/x"})).await;
    fails(&session, "create_directory", json!({"dir": "x"})).await;
}

/// list_directory_with_sizes sorts by name or size, totals, and cuts at the
/// entry budget with an offset.
#[tokio::test(flavor = "multi_thread")]
async fn list_directory_with_sizes_sorting_and_budget() {
    let tree = Tree::new();
    fs::write(tree.root.join("big.bin"), vec![b'x'; 5000]).expect("write");
    let session = start(&tree.root, &[]).await;
    let by_size = ok(
        &session,
        "list_directory_with_sizes",
        json!({"path": ".", "sortBy": "size"}),
    )
    .await;
    let entries = structured(&by_size)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries[0]["name"], "big.bin");
    assert!(
        text(&by_size).contains("Combined size"),
        "{}",
        text(&by_size)
    );
    let by_name = ok(&session, "list_directory_with_sizes", json!({"path": "."})).await;
    let names: Vec<String> = structured(&by_name)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["big.bin", "hello.txt", "sub"]);
    fails(
        &session,
        "list_directory_with_sizes",
        json!({"path": ".", "sortBy": "date"}),
    )
    .await;

    let cap = policy(&tree, "max_entries = 2");
    let small = start(&tree.root, &["--policy", &cap]).await;
    let first = ok(&small, "list_directory_with_sizes", json!({"path": "."})).await;
    assert_eq!(structured(&first)["nextOffset"], 2);
    let rest = ok(
        &small,
        "list_directory_with_sizes",
        json!({"path": ".", "offset": 2}),
    )
    .await;
    assert_eq!(structured(&rest)["entries"][0]["name"], "sub");
}

/// A tree of `count` files in nested folders.
fn grow(root: &Path, count: usize) {
    for index in 0..count {
        let dir = root
            .join(format!("d{}", index % 7))
            .join(format!("e{}", index % 3));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(
            dir.join(format!("f{index:03}.txt")),
            format!("needle {index}\nhay\n"),
        )
        .expect("write");
    }
}

/// True for the grown `.txt` files.
fn is_txt(path: &str) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|extension| extension == "txt")
}

/// Collect every path of a JSON tree.
fn flatten(nodes: &Value, prefix: &str, out: &mut Vec<String>) {
    for node in nodes.as_array().cloned().unwrap_or_default() {
        let path = format!("{prefix}{}", node["name"].as_str().unwrap_or_default());
        if node["type"] == "directory" {
            flatten(&node["children"], &format!("{path}/"), out);
        }
        out.push(path);
    }
}

/// directory_tree: excludePatterns, maxDepth, links marked, and a cut tree
/// continued by cursor covers every entry exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn directory_tree_filters_and_continues() {
    let tree = Tree::new();
    grow(&tree.root, 60);
    fs::create_dir_all(tree.root.join("node_modules/pkg")).expect("mkdir");
    let links =
        moat_tests::links_and_fifos_visible("directory_tree_filters_and_continues: a link's node");
    if links {
        symlink("sub", tree.root.join("link")).expect("symlink");
    }
    let session = start(&tree.root, &[]).await;
    let full = ok(
        &session,
        "directory_tree",
        json!({"path": ".", "excludePatterns": ["node_modules"]}),
    )
    .await;
    let value = structured(&full);
    let mut all = Vec::new();
    flatten(&value["tree"], "", &mut all);
    assert!(!all.iter().any(|path| path.contains("node_modules")));
    assert!(all.contains(&"d0/e0/f000.txt".to_string()));
    assert!(
        !links
            || value["tree"].as_array().is_some_and(|nodes| {
                nodes
                    .iter()
                    .any(|node| node["name"] == "link" && node["type"] == "symlink")
            })
    );
    let shallow = ok(
        &session,
        "directory_tree",
        json!({"path": ".", "maxDepth": 1}),
    )
    .await;
    let mut top = Vec::new();
    flatten(&structured(&shallow)["tree"], "", &mut top);
    assert!(top.iter().all(|path| !path.contains('/')), "{top:?}");
    fails(
        &session,
        "directory_tree",
        json!({"path": ".", "maxDepth": 0}),
    )
    .await;
    fails(
        &session,
        "directory_tree",
        json!({"path": ".", "excludePatterns": ["a[" ]}),
    )
    .await;
    fails(&session, "directory_tree", json!({"path": "hello.txt"})).await;

    let small = start(&tree.root, &["--max-result-bytes", "1000"]).await;
    let mut cursor: Option<String> = None;
    let mut pieces = Vec::new();
    for _ in 0..100 {
        let mut arguments = json!({"path": ".", "excludePatterns": ["node_modules"]});
        if let Some(cursor) = &cursor {
            arguments["cursor"] = json!(cursor);
        }
        let page = ok(&small, "directory_tree", arguments).await;
        let value = structured(&page);
        assert!(text(&page).len() < 2000, "page over budget");
        let mut got = Vec::new();
        flatten(&value["tree"], "", &mut got);
        pieces.extend(got);
        match value["nextCursor"].as_str() {
            Some(next) => {
                assert!(text(&page).contains("cursor="), "{}", text(&page));
                cursor = Some(next.to_string());
            }
            None => break,
        }
    }
    let files: Vec<&String> = pieces.iter().filter(|path| is_txt(path)).collect();
    let expected: Vec<&String> = all.iter().filter(|path| is_txt(path)).collect();
    let mut sorted_files = files.clone();
    sorted_files.sort();
    sorted_files.dedup();
    assert_eq!(sorted_files.len(), files.len(), "a file was returned twice");
    assert_eq!(files.len(), expected.len(), "continuation lost files");
}

/// search_files: name globs at any depth, path globs, excludes, cursor
/// continuation, visited-entry cap reported as partial, bad globs.
#[tokio::test(flavor = "multi_thread")]
async fn search_files_matches_continues_and_caps() {
    let tree = Tree::new();
    grow(&tree.root, 40);
    let session = start(&tree.root, &[]).await;
    let all = ok(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "*.txt"}),
    )
    .await;
    let found = structured(&all)["matches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(found.len(), 42, "40 grown + hello.txt + sub/inner.txt");
    let pathed = ok(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "d1/**/*.txt"}),
    )
    .await;
    assert!(structured(&pathed)["matches"].as_array().is_some_and(|m| {
        !m.is_empty()
            && m.iter()
                .all(|p| p.as_str().unwrap_or_default().starts_with("d1/"))
    }));
    let excluded = ok(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "*.txt", "excludePatterns": ["d*"]}),
    )
    .await;
    assert_eq!(
        structured(&excluded)["matches"].as_array().map(Vec::len),
        Some(2)
    );
    let absolute = ok(
        &session,
        "search_files",
        json!({"path": tree.root_arg(), "pattern": "inner.txt"}),
    )
    .await;
    assert_eq!(
        text(&absolute).lines().next(),
        Some(format!("{}/sub/inner.txt", tree.root_arg()).as_str())
    );
    let none = ok(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "*.nothing"}),
    )
    .await;
    assert!(text(&none).contains("No matches"));
    fails(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "[z"}),
    )
    .await;
    fails(
        &session,
        "search_files",
        json!({"path": ".", "pattern": ""}),
    )
    .await;
    fails(&session, "search_files", json!({"path": "."})).await;

    let cap = policy(&tree, "max_entries = 5");
    let small = start(&tree.root, &["--policy", &cap]).await;
    let mut cursor: Option<String> = None;
    let mut got = Vec::new();
    for _ in 0..50 {
        let mut arguments = json!({"path": ".", "pattern": "*.txt"});
        if let Some(cursor) = &cursor {
            arguments["cursor"] = json!(cursor);
        }
        let page = ok(&small, "search_files", arguments).await;
        let value = structured(&page);
        got.extend(value["matches"].as_array().cloned().unwrap_or_default());
        match value["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(got.len(), 42, "continuation returns every match once");

    let visited = policy(&tree, "max_visited = 10");
    let capped = start(&tree.root, &["--policy", &visited]).await;
    let partial = ok(
        &capped,
        "search_files",
        json!({"path": ".", "pattern": "*.txt"}),
    )
    .await;
    assert!(
        text(&partial).contains("visited-entry cap"),
        "{}",
        text(&partial)
    );
    assert!(structured(&partial)["nextCursor"].is_string());
}

/// search_file_contents: literal and regex, case, file filter, .gitignore,
/// binary files skipped, path:line:column output, budget cut and cursor.
#[tokio::test(flavor = "multi_thread")]
async fn search_file_contents_behaviour() {
    let tree = Tree::new();
    let root = &tree.root;
    fs::write(
        root.join("a.rs"),
        "fn main() {}\nlet x = a.b(1);\nLET Y = 2;\n",
    )
    .expect("write");
    fs::write(root.join("b.md"), "a.b(1) in docs\n").expect("write");
    fs::write(root.join("bin.dat"), b"a.b(1)\0\0\0binary").expect("write");
    fs::create_dir_all(root.join("target")).expect("mkdir");
    fs::write(root.join("target/gen.rs"), "a.b(1) generated\n").expect("write");
    fs::write(root.join(".gitignore"), "target/\n").expect("write");
    let session = start(root, &[]).await;

    let literal = ok(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "a.b(1)"}),
    )
    .await;
    let shown = text(&literal);
    assert!(shown.contains("a.rs:2:9: let x = a.b(1);"), "{shown}");
    assert!(shown.contains("b.md:1:1: a.b(1) in docs"), "{shown}");
    assert!(
        !shown.contains("gen.rs"),
        "gitignored file searched: {shown}"
    );
    assert!(!shown.contains("bin.dat"), "binary file reported: {shown}");
    let unignored = ok(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "a.b(1)", "respectGitignore": false}),
    )
    .await;
    assert!(
        text(&unignored).contains("target/gen.rs:1:1"),
        "{}",
        text(&unignored)
    );
    let filtered = ok(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "a.b(1)", "filePattern": "*.md"}),
    )
    .await;
    assert_eq!(
        structured(&filtered)["matches"].as_array().map(Vec::len),
        Some(1)
    );
    let regex = ok(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "let \\w = \\d", "isRegex": true, "ignoreCase": true}),
    )
    .await;
    assert_eq!(
        structured(&regex)["matches"].as_array().map(Vec::len),
        Some(1),
        "{}",
        text(&regex)
    );
    let case = ok(
        &session,
        "search_file_contents",
        json!({"path": "a.rs", "query": "let", "ignoreCase": true}),
    )
    .await;
    assert_eq!(
        structured(&case)["matches"].as_array().map(Vec::len),
        Some(2),
        "{}",
        text(&case)
    );
    assert!(text(&case).starts_with("a.rs:2:1:"), "{}", text(&case));
    fails(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "(", "isRegex": true}),
    )
    .await;
    fails(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": ""}),
    )
    .await;
    fails(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "x", "cursor": "garbage"}),
    )
    .await;

    // A file past the size read in one go is streamed, and searched to its
    // end: both of its matches are found.
    let big = format!(
        "farword first\n{}farword last\n",
        "filler line\n".repeat(10_000)
    );
    fs::write(root.join("big.txt"), &big).expect("write");
    let streamed = ok(
        &session,
        "search_file_contents",
        json!({"path": "big.txt", "query": "farword"}),
    )
    .await;
    assert!(
        text(&streamed).contains("big.txt:1:1: farword first")
            && text(&streamed).contains("big.txt:10002:1: farword last"),
        "{}",
        text(&streamed)
    );

    // Many matches in one file and across files: the cut continues exactly.
    fs::write(root.join("many.txt"), "needle\n".repeat(30)).expect("write");
    grow(&root.join("more"), 12);
    let cap = policy(&tree, "max_entries = 7");
    let small = start(root, &["--policy", &cap]).await;
    let mut cursor: Option<String> = None;
    let mut got = Vec::new();
    for _ in 0..50 {
        let mut arguments = json!({"path": ".", "query": "needle"});
        if let Some(cursor) = &cursor {
            arguments["cursor"] = json!(cursor);
        }
        let page = ok(&small, "search_file_contents", arguments).await;
        let value = structured(&page);
        for hit in value["matches"].as_array().cloned().unwrap_or_default() {
            got.push(format!(
                "{}:{}",
                hit["path"].as_str().unwrap_or_default(),
                hit["line"]
            ));
        }
        match value["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        got.len(),
        "a match was returned twice: {got:?}"
    );
    assert_eq!(got.len(), 42, "30 in many.txt + 12 grown: {got:?}");
}

/// get_file_info describes files, directories and links; list_allowed_directories
/// shows the root and its mode.
#[tokio::test(flavor = "multi_thread")]
async fn info_and_allowed_directories() {
    let tree = Tree::new();
    let links = moat_tests::links_and_fifos_visible("info_and_allowed_directories: a link's info");
    if links {
        symlink("hello.txt", tree.root.join("alias")).expect("symlink");
    }
    let session = start(&tree.root, &[]).await;
    let file = structured(&ok(&session, "get_file_info", json!({"path": "hello.txt"})).await);
    assert_eq!(file["size"], 12);
    assert_eq!(file["isFile"], true);
    assert!(
        file["modified"]
            .as_str()
            .is_some_and(|time| time.ends_with('Z'))
    );
    let dir = structured(&ok(&session, "get_file_info", json!({"path": "sub"})).await);
    assert_eq!(dir["isDirectory"], true);
    if links {
        let link = structured(&ok(&session, "get_file_info", json!({"path": "alias"})).await);
        assert_eq!(link["isSymlink"], true);
        assert_eq!(link["isFile"], true);
    }
    fails(&session, "get_file_info", json!({"path": "missing"})).await;
    let allowed = ok(&session, "list_allowed_directories", json!({})).await;
    assert!(
        text(&allowed).contains(&format!(
            "{} (read-write)",
            moat_tests::root_as_shown(&tree.root_arg())
        )),
        "{}",
        text(&allowed)
    );
    fails(&session, "list_allowed_directories", json!({"extra": 1})).await;
}

/// copy_file copies files and trees, never overwrites, never copies a
/// directory into itself, and skips links inside a tree.
#[tokio::test(flavor = "multi_thread")]
async fn copy_file_behaviour() {
    let tree = Tree::new();
    let links =
        moat_tests::links_and_fifos_visible("copy_file_behaviour: a link inside a copied tree");
    if links {
        symlink(&tree.outside, tree.root.join("sub/out_link")).expect("symlink");
    }
    let session = start(&tree.root, &[]).await;
    ok(
        &session,
        "copy_file",
        json!({"source": "hello.txt", "destination": "sub/hello2.txt"}),
    )
    .await;
    assert_eq!(
        fs::read_to_string(tree.root.join("sub/hello2.txt")).expect("read"),
        "hello\nworld\n"
    );
    let message = fails(
        &session,
        "copy_file",
        json!({"source": "sub/inner.txt", "destination": "hello.txt"}),
    )
    .await;
    assert!(message.contains("never overwrites"), "{message}");
    assert_eq!(
        fs::read_to_string(tree.root.join("hello.txt")).expect("read"),
        "hello\nworld\n"
    );
    let message = fails(
        &session,
        "copy_file",
        json!({"source": "sub", "destination": "sub_copy"}),
    )
    .await;
    assert!(message.contains("recursive"), "{message}");
    let copied = ok(
        &session,
        "copy_file",
        json!({"source": "sub", "destination": "sub_copy", "recursive": true}),
    )
    .await;
    assert_eq!(
        structured(&copied)["skipped"],
        u64::from(links),
        "{}",
        text(&copied)
    );
    assert_eq!(
        fs::read_to_string(tree.root.join("sub_copy/inner.txt")).expect("read"),
        "inner\n"
    );
    assert!(!tree.root.join("sub_copy/out_link").exists());
    fails(
        &session,
        "copy_file",
        json!({"source": "sub", "destination": "sub/inside", "recursive": true}),
    )
    .await;
    fails(
        &session,
        "copy_file",
        json!({"source": "missing", "destination": "x"}),
    )
    .await;
}

/// delete_file: offered only with allow_delete; files, links (not their
/// target), empty directories, non-empty only with recursive; never a root.
#[tokio::test(flavor = "multi_thread")]
async fn delete_file_behaviour() {
    let tree = Tree::new();
    let plain = start(&tree.root, &[]).await;
    let refused = plain
        .call("delete_file", json!({"path": "hello.txt"}))
        .await;
    assert!(
        refused.is_err() || refused.as_ref().is_ok_and(is_error),
        "delete offered without the policy"
    );
    assert!(tree.root.join("hello.txt").exists());

    let links = moat_tests::links_and_fifos_visible("delete_file_behaviour: deleting a link");
    if links {
        symlink(tree.outside.join("secret.txt"), tree.root.join("out_link")).expect("symlink");
    }
    fs::create_dir_all(tree.root.join("empty")).expect("mkdir");
    fs::create_dir_all(tree.root.join("full/a/b")).expect("mkdir");
    fs::write(tree.root.join("full/a/b/x.txt"), "x").expect("write");
    let allow = policy(&tree, DELETE_WITHOUT_ASKING);
    let session = start(&tree.root, &["--policy", &allow]).await;
    ok(&session, "delete_file", json!({"path": "hello.txt"})).await;
    assert!(!tree.root.join("hello.txt").exists());
    if links {
        ok(&session, "delete_file", json!({"path": "out_link"})).await;
        assert!(
            tree.outside.join("secret.txt").exists(),
            "deleted through the link"
        );
    }
    ok(&session, "delete_file", json!({"path": "empty"})).await;
    let message = fails(&session, "delete_file", json!({"path": "full"})).await;
    assert!(message.contains("recursive: true"), "{message}");
    let done = ok(
        &session,
        "delete_file",
        json!({"path": "full", "recursive": true}),
    )
    .await;
    assert_eq!(structured(&done)["complete"], true);
    assert!(!tree.root.join("full").exists());
    fails(&session, "delete_file", json!({"path": "."})).await;
    fails(
        &session,
        "delete_file",
        json!({"path": tree.root_arg(), "recursive": true}),
    )
    .await;
    assert!(tree.root.exists());
    fails(&session, "delete_file", json!({"path": "missing"})).await;
}

/// A FIFO in the tree never blocks a listing, walk, search or read.
#[tokio::test(flavor = "multi_thread")]
async fn fifo_never_blocks_any_tool() {
    if !moat_tests::links_and_fifos_visible("fifo_never_blocks_any_tool") {
        return;
    }
    let tree = Tree::new();
    let status = std::process::Command::new("mkfifo")
        .arg(tree.root.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let session = start(&tree.root, &[]).await;
    let sizes = ok(&session, "list_directory_with_sizes", json!({"path": "."})).await;
    assert!(text(&sizes).contains("[OTHER] pipe"), "{}", text(&sizes));
    ok(&session, "directory_tree", json!({"path": "."})).await;
    ok(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "*"}),
    )
    .await;
    ok(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "x", "respectGitignore": false}),
    )
    .await;
    ok(&session, "get_file_info", json!({"path": "pipe"})).await;
    let multiple = ok(
        &session,
        "read_multiple_files",
        json!({"paths": ["pipe", "hello.txt"]}),
    )
    .await;
    assert!(
        text(&multiple).contains("never opened"),
        "{}",
        text(&multiple)
    );
    fails(&session, "read_media_file", json!({"path": "pipe"})).await;
    fails(
        &session,
        "copy_file",
        json!({"source": "pipe", "destination": "pipe2"}),
    )
    .await;
    fails(
        &session,
        "edit_file",
        json!({"path": "pipe", "edits": [{"oldText": "a", "newText": "b"}]}),
    )
    .await;
}

/// Deny globs hide entries from every listing and search, and refuse them.
#[tokio::test(flavor = "multi_thread")]
async fn deny_globs_hide_and_refuse_everywhere() {
    let tree = Tree::new();
    fs::write(tree.root.join(".env"), "TOKEN=hunter2\n").expect("write");
    fs::create_dir_all(tree.root.join("sub/.ssh")).expect("mkdir");
    fs::write(tree.root.join("sub/.ssh/id"), "KEY hunter2\n").expect("write");
    let session = start(
        &tree.root,
        &[
            "--deny",
            "**/.env",
            "--deny",
            "**/.ssh/**",
            "--deny",
            "**/.ssh",
        ],
    )
    .await;
    for (tool, arguments) in [
        ("list_directory_with_sizes", json!({"path": "."})),
        ("directory_tree", json!({"path": "."})),
        ("search_files", json!({"path": ".", "pattern": "*"})),
        (
            "search_file_contents",
            json!({"path": ".", "query": "hunter2", "respectGitignore": false}),
        ),
    ] {
        let result = ok(&session, tool, arguments).await;
        let shown = text(&result);
        assert!(
            !shown.contains(".env") && !shown.contains(".ssh") && !shown.contains("hunter2"),
            "{tool}: {shown}"
        );
    }
    for (tool, arguments) in [
        ("get_file_info", json!({"path": ".env"})),
        ("read_multiple_files", json!({"paths": [".env"]})),
        (
            "edit_file",
            json!({"path": ".env", "edits": [{"oldText": "TOKEN", "newText": "X"}]}),
        ),
        (
            "copy_file",
            json!({"source": ".env", "destination": "env.txt"}),
        ),
        (
            "copy_file",
            json!({"source": "sub", "destination": "sub2", "recursive": true}),
        ),
    ] {
        let result = session.call(tool, arguments.clone()).await.expect("call");
        assert!(
            !text(&result).contains("hunter2"),
            "{tool}: {}",
            text(&result)
        );
    }
    assert!(!tree.root.join("env.txt").exists());
    assert!(
        !tree.root.join("sub2/.ssh").exists(),
        "a denied entry was copied"
    );
}

/// list_directory's outputSchema declares exactly the fields its
/// structuredContent carries (its `entries` array was dropped from the
/// answer to halve it, while the schema still promised it).
#[tokio::test(flavor = "multi_thread")]
async fn list_directory_schema_matches_what_is_sent() {
    let tree = Tree::new();
    fs::write(tree.root.join("a.txt"), "a").expect("write");
    let session = start(&tree.root, &[]).await;
    let tools = session.client.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|tool| tool.name == "list_directory")
        .expect("list_directory listed");
    let schema = tool.output_schema.as_ref().expect("outputSchema");
    let mut declared: Vec<String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    let listing = ok(&session, "list_directory", json!({"path": "."})).await;
    let mut sent: Vec<String> = structured(&listing)
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    declared.sort();
    sent.sort();
    assert_eq!(declared, sent);
    assert!(
        text(&listing).contains("[FILE] a.txt"),
        "{}",
        text(&listing)
    );
}
