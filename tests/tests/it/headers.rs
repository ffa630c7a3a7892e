//! Security headers on every response of the app (issue 16, "security headers for the
//! whole app"): a CSP that allows only the app's own scripts and wasm, no framing, no
//! referrer, no sniffing; and a tidy check that the web app needs nothing the CSP forbids.

use reqwest::Method;
use walkaround_tests::{Db, spawn};

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn(Db::Sqlite).await;
    let (office, anonymous) = (app.as_user("office").await, app.anonymous());
    for (path, authorised, status) in [
        ("/", false, 200),
        ("/index.html", false, 200),
        ("/no-such-page.js", false, 404),
        ("/api/v1/templates", false, 200),
        ("/api/v1/me", true, 200),
        ("/api/v1/me", false, 401),
        ("/api/v1/nothing-here", true, 404),
        ("/healthz", false, 200),
        ("/api/v1/violations.csv", true, 200),
    ] {
        let client = if authorised { &office } else { &anonymous };
        let r = client
            .request(Method::GET, path)
            .send()
            .await
            .expect("responds");
        assert_eq!(r.status().as_u16(), status, "{path}");
        let h = r.headers();
        assert_eq!(
            h["content-security-policy"],
            server::http::APP_CSP,
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    let csp = server::http::APP_CSP;
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    app.stop().await;
}

/// The CSP above forbids inline scripts, inline event handlers, `<style>` elements,
/// `style` attributes, `eval` and friends and `data:` images; the web app must use none of them, or its
/// pages break. (A browser walk of every page for CSP reports is the fuller check.)
#[test]
fn the_web_app_needs_nothing_the_csp_forbids() {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-wasm/web");
    let html = std::fs::read_to_string(web.join("index.html")).expect("index.html");
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(tag.contains("src="), "an inline <script>: <script{tag}>");
    }
    for forbidden in [
        " onload=",
        " onclick=",
        " onerror=",
        "<style",
        "javascript:",
    ] {
        assert!(!html.contains(forbidden), "index.html holds {forbidden}");
    }
    for entry in std::fs::read_dir(&web).expect("the web app") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        let js = std::fs::read_to_string(&path).expect("a script");
        // A `style` attribute set from script breaks under `style-src 'self'`: classes only.
        for line in js.lines().filter(|l| l.contains("h(")) {
            assert!(
                !line.contains("style: ") && !line.contains("'style'"),
                "{} sets a style attribute, which the CSP forbids: {line}",
                path.display()
            );
        }
        assert!(
            !js.contains("setAttribute('style'"),
            "{} sets a style attribute, which the CSP forbids",
            path.display()
        );
        for forbidden in [
            "eval(",
            "new Function(",
            "'data:",
            "`data:",
            "\"data:",
            "innerHTML = '<script",
            "setTimeout('",
            "setTimeout(\"",
            "createElement('style')",
            "createElement(\"style\")",
        ] {
            assert!(
                !js.contains(forbidden),
                "{} uses {forbidden}, which the CSP forbids",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn blob_responses_keep_their_own_stricter_policy() {
    let app = spawn(Db::Sqlite).await;
    let wang = app.as_user("wang").await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let r = wang
        .request(Method::POST, "/api/v1/blobs?site=demo-site")
        .body(png)
        .send()
        .await
        .expect("responds");
    assert_eq!(
        r.headers()["content-security-policy"],
        server::http::APP_CSP
    );
    let body: serde_json::Value = r.json().await.expect("JSON");
    let sha = body["sha256"].as_str().expect("a hash");
    let r = wang
        .request(Method::GET, &format!("/api/v1/blobs/{sha}"))
        .send()
        .await
        .expect("responds");
    let csp: Vec<_> = r
        .headers()
        .get_all("content-security-policy")
        .iter()
        .collect();
    assert_eq!(csp, ["default-src 'none'; sandbox"]);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    app.stop().await;
}
