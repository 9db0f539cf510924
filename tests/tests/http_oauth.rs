//! OAuth 2.1 resource-server mode: only a JWT signed by the JWKS's key, for
//! this issuer and this audience, unexpired and with the required scope,
//! gets in; RFC 9728 metadata tells clients where to get one.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use moat_tests::{Era, HttpServer, call, fixture::Tree, text, workspace_root};
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "https://moat.example.test/mcp";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn key(file: &str) -> EncodingKey {
    let pem = std::fs::read(workspace_root().join("tests/fixtures/oauth").join(file)).expect("key");
    EncodingKey::from_rsa_pem(&pem).expect("rsa pem")
}

/// A token with `claims` over the defaults, signed by `signer`.
fn token(signer: &str, claims: &Value) -> String {
    let mut all = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now() + 600, "scope": "mcp:tools other"
    });
    if let (Some(all), Some(extra)) = (all.as_object_mut(), claims.as_object()) {
        for (name, value) in extra {
            all.insert(name.clone(), value.clone());
        }
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    jsonwebtoken::encode(&header, &all, &key(signer)).expect("sign")
}

fn start(tree: &Tree) -> HttpServer {
    let jwks = workspace_root().join("tests/fixtures/oauth/jwks.json");
    HttpServer::start(
        "moat-fs",
        &[&tree.root_arg()],
        &[
            "--jwks",
            &jwks.to_string_lossy(),
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--required-scope",
            "mcp:tools",
        ],
    )
    .expect("start")
}

async fn post(server: &HttpServer, bearer: Option<&str>) -> reqwest::Response {
    let authorization = bearer.map(|bearer| format!("Bearer {bearer}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    server
        .post_mcp(&headers, moat_tests::initialize_request().to_string())
        .await
}

/// Missing, forged, expired, wrong-audience, wrong-issuer and unsigned
/// tokens get 401; a token without the scope gets 403; the right one works.
#[tokio::test(flavor = "multi_thread")]
async fn only_valid_tokens_for_this_server_get_in() {
    let tree = Tree::new();
    let server = start(&tree);
    let missing = post(&server, None).await;
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(challenge.contains("resource_metadata="), "{challenge}");

    let unsigned = {
        let header = r#"{"alg":"none","typ":"JWT","kid":"test-key-1"}"#;
        let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now() + 600, "scope": "mcp:tools"});
        let encode = |text: &str| {
            use std::fmt::Write as _;
            // base64url without padding, by hand, to avoid a dependency.
            let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let bytes = text.as_bytes();
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..=chunk.len() {
                    let _ = out.write_char(char::from(table[((n >> (18 - 6 * i)) & 63) as usize]));
                }
            }
            out
        };
        format!("{}.{}.", encode(header), encode(&claims.to_string()))
    };
    let refused = [
        ("forged signature", token("impostor.pem", &json!({}))),
        (
            "expired",
            token("signer.pem", &json!({"exp": now() - 3600})),
        ),
        (
            "wrong audience",
            token("signer.pem", &json!({"aud": "https://other.example.test"})),
        ),
        (
            "wrong issuer",
            token("signer.pem", &json!({"iss": "https://evil.example.test"})),
        ),
        ("alg none", unsigned),
        ("garbage", "not-a-jwt".to_string()),
    ];
    for (case, bearer) in &refused {
        let response = post(&server, Some(bearer)).await;
        assert_eq!(response.status(), 401, "{case}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(challenge.contains("invalid_token"), "{case}: {challenge}");
    }

    let no_scope = post(
        &server,
        Some(&token("signer.pem", &json!({"scope": "other"}))),
    )
    .await;
    assert_eq!(no_scope.status(), 403);
    let challenge = no_scope.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );

    let good = token("signer.pem", &json!({}));
    let client = server
        .client_with_token(Era::Handshake, Some(&good))
        .await
        .expect("valid token");
    let result = call(&client, "read_text_file", json!({"path": "hello.txt"}))
        .await
        .expect("call");
    assert_eq!(text(&result), "hello\nworld\n");
    let log = server.log();
    assert!(!log.contains(&good), "a token reached the log");
}

/// RFC 9728 metadata names this resource and its authorization server, and
/// is open without a token.
#[tokio::test(flavor = "multi_thread")]
async fn protected_resource_metadata_is_served() {
    let tree = Tree::new();
    let server = start(&tree);
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let metadata: Value = response.json().await.expect("json");
        assert_eq!(metadata["resource"], AUDIENCE);
        assert_eq!(metadata["authorization_servers"][0], ISSUER);
        assert_eq!(metadata["scopes_supported"][0], "mcp:tools");
    }
}
