//! Login, refresh, logout, rate limits, and tokens that must not work.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use walkaround_tests::{Db, PASSWORD, TestApp, spawn};

/// The status of `GET /api/v1/me` with `token`: whether the token works.
async fn me(app: &TestApp, token: &str) -> u16 {
    app.with_token(token).get("/api/v1/me").await.0
}

/// Posts `body` to the login route without a token: the status, the JSON answer and the
/// headers.
async fn post_login(app: &TestApp, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = app
        .anonymous()
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .json(&body)
        .send()
        .await
        .expect("responds");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn login_returns_tokens_and_the_user_with_sites() {
    let app = spawn(Db::Sqlite).await;
    let body = app.as_user("wang").await.login().clone();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["role"], "workshop_manager");
    assert_eq!(body["user"]["sites"], json!(["demo-site"]));
    assert!(
        body["expires_in"]
            .as_i64()
            .is_some_and(|s| s > 0 && s <= 900)
    );
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(me(&app, token).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn(Db::Sqlite).await;
    let (s1, b1, h1) = post_login(&app, json!({"username": "wang", "password": "nope"})).await;
    let (s2, b2) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "ghost", "password": "nope"}),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2, "no hint which user names exist");
    assert_eq!(
        h1.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_user() {
    let app = spawn(Db::Sqlite).await;
    for _ in 0..5 {
        let (s, _) = app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                json!({"username": "li", "password": "guess"}),
            )
            .await;
        assert_eq!(s, 401);
    }
    let (s, body, headers) =
        post_login(&app, json!({"username": "li", "password": PASSWORD})).await;
    assert_eq!(s, 429, "even the right password waits out the window");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(headers.get("retry-after").is_some());
    // Another user from the same address is not locked out yet.
    app.as_user("wang").await;
    app.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_login() {
    let app = spawn(Db::Sqlite).await;
    let first = app.as_user("wang").await.login().clone();
    let r1 = first["refresh_token"].as_str().expect("refresh");
    let (s, second) = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await;
    assert_eq!(s, 200);
    let r2 = second["refresh_token"].as_str().expect("refresh");
    assert_ne!(r1, r2);
    let access2 = second["access_token"].as_str().expect("token");
    assert_eq!(me(&app, access2).await, 200);
    // The rotated token comes back after the grace window: someone copied it. The whole
    // login ends.
    rotated_long_ago(&app, r1).await;
    let (s, _) = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await;
    assert_eq!(s, 401);
    let (s, _) = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({"refresh_token": r2}))
        .await;
    assert_eq!(s, 401, "the newer token of the same login is revoked too");
    assert_eq!(me(&app, access2).await, 401, "and so are its access tokens");
    let (s, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": "0".repeat(64)}),
        )
        .await;
    assert_eq!(s, 401);
    app.stop().await;
}

/// Moves the rotation of refresh token `token` back beyond the grace window, as if it
/// had happened `REFRESH_GRACE` + 1 s ago.
async fn rotated_long_ago(app: &TestApp, token: &str) {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let back = server::auth::REFRESH_GRACE.as_millis() as i64 + 1000;
    let sql = "update refresh_tokens set revoked_at = revoked_at - $1 where token_hash = $2";
    let n = match &app.state.store {
        server::store::Store::Sqlite(pool, _) => sqlx::query(sql)
            .bind(back)
            .bind(&hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        server::store::Store::Postgres(pool) => sqlx::query(sql)
            .bind(back)
            .bind(&hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    assert_eq!(n.expect("updates"), 1, "the token is stored");
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    let (status, body) = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({"refresh_token": token}))
        .await;
    (status, body)
}

walkaround_tests::on_both_databases!(
    refreshes_with_one_token_at_once_all_succeed_and_every_token_works,
    a_refresh_retried_within_the_grace_window_is_answered_and_after_it_ends_the_login,
    a_login_ended_by_logout_is_not_revived_by_the_grace_window,
);

/// Issue 16, input 4: the web app refreshes from two requests at once (and a tablet
/// retries a refresh whose answer was lost); that must not log the user out.
async fn refreshes_with_one_token_at_once_all_succeed_and_every_token_works(db: Db) {
    let app = spawn(db).await;
    let first = app.as_user("wang").await.login().clone();
    let r1 = first["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    for n in [2, 8] {
        let r1 = if n == 2 {
            r1.clone()
        } else {
            app.as_user("wang").await.login()["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_string()
        };
        let answers = futures_util::future::join_all((0..n).map(|_| refresh(&app, &r1))).await;
        let mut successors = std::collections::BTreeSet::new();
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{n} at once: {answers:?}");
            let access = body["access_token"].as_str().expect("token");
            assert_eq!(
                me(&app, access).await,
                200,
                "{n} at once: the access token works"
            );
            successors.insert(body["refresh_token"].as_str().expect("refresh").to_string());
        }
        assert_eq!(successors.len(), n, "each answer has its own successor");
        for successor in &successors {
            let (status, body) = refresh(&app, successor).await;
            assert_eq!(
                status, 200,
                "{n} at once: every successor refreshes: {body}"
            );
            let access = body["access_token"].as_str().expect("token");
            assert_eq!(me(&app, access).await, 200);
        }
    }
    app.stop().await;
}

async fn a_refresh_retried_within_the_grace_window_is_answered_and_after_it_ends_the_login(db: Db) {
    let app = spawn(db).await;
    let r1 = app.as_user("li").await.login()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, second) = refresh(&app, &r1).await;
    assert_eq!(status, 200);
    // The answer was lost; the tablet retries with the same token.
    let (status, retry) = refresh(&app, &r1).await;
    assert_eq!(status, 200, "{retry}");
    let access2 = second["access_token"].as_str().expect("token");
    let access3 = retry["access_token"].as_str().expect("token");
    assert_eq!(
        (me(&app, access2).await, me(&app, access3).await),
        (200, 200)
    );
    // Later, the old token comes back once more: a reuse. The whole login ends.
    rotated_long_ago(&app, &r1).await;
    let (status, _) = refresh(&app, &r1).await;
    assert_eq!(status, 401);
    for successor in [&second, &retry] {
        let token = successor["refresh_token"].as_str().expect("refresh");
        assert_eq!(refresh(&app, token).await.0, 401, "the login has ended");
    }
    assert_eq!(
        (me(&app, access2).await, me(&app, access3).await),
        (401, 401)
    );
    app.stop().await;
}

async fn a_login_ended_by_logout_is_not_revived_by_the_grace_window(db: Db) {
    let app = spawn(db).await;
    let r1 = app.as_user("li").await.login()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (_, second) = refresh(&app, &r1).await;
    let (status, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        refresh(&app, &r1).await.0,
        401,
        "within the window, but logged out"
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_its_access_tokens() {
    let app = spawn(Db::Sqlite).await;
    let body = app.as_user("li").await.login().clone();
    let refresh = body["refresh_token"].as_str().expect("refresh");
    let access = body["access_token"].as_str().expect("token");
    let other = app.as_user("li").await.login().clone();
    let (s, _) = app
        .anonymous()
        .post("/api/v1/auth/logout", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(s, 401);
    assert_eq!(me(&app, access).await, 401);
    assert_eq!(
        me(&app, other["access_token"].as_str().expect("token")).await,
        200,
        "other logins stay"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_user_loses_every_session_at_once() {
    let app = spawn(Db::Sqlite).await;
    let body = app.as_user("fang").await.login().clone();
    app.state
        .store
        .set_user_disabled("fang", true)
        .await
        .expect("disables");
    assert_eq!(
        me(&app, body["access_token"].as_str().expect("token")).await,
        401
    );
    let (s, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": body["refresh_token"]}),
        )
        .await;
    assert_eq!(s, 401);
    app.stop().await;
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused() {
    let app = spawn(Db::Sqlite).await;
    let body = app.as_user("wang").await.login().clone();
    let good = body["access_token"].as_str().expect("token").to_string();
    let secret = app
        .state
        .store
        .setting_or_insert("jwt_secret", String::new)
        .await
        .expect("reads");
    let key = EncodingKey::from_secret(secret.as_bytes());
    let now = chrono::Utc::now().timestamp();
    // The session id is needed to forge otherwise-valid tokens; read it from a real one.
    let decoded = jsonwebtoken::dangerous::insecure_decode::<Value>(&good).expect("decodes");
    let sid = decoded.claims["sid"].as_str().expect("sid").to_string();
    let claims = |overrides: Value| {
        let mut c = json!({"sub": "wang", "exp": now + 600, "iat": now, "nbf": now, "iss": "walkaround", "aud": "walkaround-api", "sid": sid});
        for (k, v) in overrides.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let sign =
        |c: Value| jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &key).expect("signs");
    assert_eq!(
        me(&app, &sign(claims(json!({})))).await,
        200,
        "a correctly forged token proves the harness"
    );

    let mut tampered = good.clone();
    let mid = tampered.find('.').expect("dot") + 5;
    tampered.replace_range(
        mid..mid + 1,
        if &good[mid..mid + 1] == "A" { "B" } else { "A" },
    );
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims(json!({})).to_string().as_bytes())
    );
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(b"guess"),
    )
    .expect("signs");
    let cases = [
        ("tampered", tampered),
        ("alg none", alg_none),
        ("wrong key", wrong_key),
        (
            "expired beyond leeway",
            sign(claims(json!({"exp": now - 60}))),
        ),
        ("not yet valid", sign(claims(json!({"nbf": now + 600})))),
        (
            "wrong audience",
            sign(claims(json!({"aud": "someone-else"}))),
        ),
        ("wrong issuer", sign(claims(json!({"iss": "evil"})))),
        ("missing exp", sign(claims(json!({"exp": null})))),
        (
            "exp as a string",
            sign(claims(json!({"exp": (now + 600).to_string()}))),
        ),
        (
            "nbf as a string",
            sign(claims(json!({"nbf": now.to_string()}))),
        ),
        ("unknown user", sign(claims(json!({"sub": "ghost"})))),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, token) in cases {
        assert_eq!(me(&app, &token).await, 401, "{what}");
    }
    let (status, _) = app.anonymous().get("/api/v1/me").await;
    assert_eq!(status, 401, "no token");
    app.stop().await;
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_get_clear_json_errors() {
    let app = spawn(Db::Sqlite).await;
    let anonymous = app.anonymous();
    let login = || anonymous.request(reqwest::Method::POST, "/api/v1/auth/login");
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = login().body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let cases = [
        (
            send("{not json", Some("application/json"))
                .await
                .expect("responds"),
            400,
            "bad_request",
        ),
        (
            send(
                r#"{"username": 5, "password": "x"}"#,
                Some("application/json"),
            )
            .await
            .expect("responds"),
            422,
            "invalid_body",
        ),
        (
            send(
                r#"{"username": "a", "password": "b", "admin": true}"#,
                Some("application/json"),
            )
            .await
            .expect("responds"),
            422,
            "invalid_body",
        ),
        (
            send(r#"{"username": "a", "password": "b"}"#, None)
                .await
                .expect("responds"),
            415,
            "not_json",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let big = "x".repeat(server::http::MAX_BODY_BYTES + 1);
    let r = login()
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 413);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_rate_limited_across_user_names() {
    let app = spawn(Db::Sqlite).await;
    for n in 0..20 {
        let (s, _) = app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                json!({"username": format!("guess{n}"), "password": "x"}),
            )
            .await;
        assert_eq!(s, 401);
    }
    let (s, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "wang", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 429, "the address is throttled, whatever user it tries");
    app.stop().await;
}

#[tokio::test]
async fn a_sync_connection_closes_when_its_token_expires() {
    let app = spawn(Db::Sqlite).await;
    let body = app.as_user("wang").await.login().clone();
    let good = body["access_token"].as_str().expect("token");
    let decoded = jsonwebtoken::dangerous::insecure_decode::<Value>(good).expect("decodes");
    let secret = app
        .state
        .store
        .setting_or_insert("jwt_secret", String::new)
        .await
        .expect("reads");
    let now = chrono::Utc::now().timestamp();
    let mut claims = decoded.claims.clone();
    claims["exp"] = json!(now + 1);
    let short = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs");
    let url = format!("ws://{}/sync?token={short}", app.address);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects while the token is valid");
    use futures_util::StreamExt;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            match ws.next().await {
                None
                | Some(Err(_))
                | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "closed within expiry + leeway");
    app.stop().await;
}
