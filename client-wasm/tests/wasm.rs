//! The wasm API, tested in WebAssembly (`wasm-bindgen-test`, in Node): the sync client
//! against a server made of the same shared protocol code, photo hashes, and errors.
#![cfg(target_arch = "wasm32")]

use automerge::Automerge;
use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use client_wasm::sync::{SyncClient, sha256_hex};
use shared::protocol::{self, Event, Message, ServerSession};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

/// A plain JavaScript value, as the web app passes them (objects, not `Map`s).
fn js(value: &impl serde::Serialize) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .expect("converts")
}

fn walkaround() -> JsValue {
    js(&shared::builtin::find(shared::builtin::WALKAROUND).expect("built-in"))
}

fn areas() -> JsValue {
    js(
        &serde_json::json!([{ "id": "bay-1", "kind": "bay", "name": { "zh": "1号工位", "en": "Bay 1" } }]),
    )
}

fn answer(value: &str) -> JsValue {
    js(&serde_json::json!({ "type": value }))
}

/// The server side of the exchange: the shared session and one document; with a `user`,
/// every incoming change is judged with the shared policy as the real server judges it
/// (a refused message changes nothing and is answered `change refused: …`).
struct FakeServer {
    session: ServerSession,
    doc: Automerge,
    state: SyncState,
    user: Option<shared::policy::User>,
}

impl FakeServer {
    /// Handles a frame from the client; returns the frames to send back.
    fn receive(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for event in self
            .session
            .receive(protocol::decode(frame).expect("valid frame"))
        {
            match event {
                Event::Send(m) => out.push(protocol::encode(&m)),
                Event::Sync {
                    document_id, data, ..
                } => {
                    let message = SyncMessage::decode(&data).expect("valid sync data");
                    if let Some(user) = &self.user {
                        let mut fork = self.doc.clone();
                        let mut state = self.state.clone();
                        fork.receive_sync_message(&mut state, message)
                            .expect("applies");
                        let added = self.doc.get_changes_added(&fork);
                        let mut working = self.doc.clone();
                        if let Err(denial) =
                            shared::policy::judge_and_apply(user, &mut working, &added)
                        {
                            let refusal = self
                                .session
                                .error(format!("change refused: {denial}"), Some(document_id));
                            out.push(protocol::encode(&refusal));
                            continue;
                        }
                        self.doc = working;
                        self.state = state;
                    } else {
                        self.doc
                            .receive_sync_message(&mut self.state, message)
                            .expect("applies");
                    }
                    if let Some(reply) = self.doc.generate_sync_message(&mut self.state) {
                        out.push(protocol::encode(
                            &self.session.sync(document_id, reply.encode()),
                        ));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Carries frames both ways until neither side has more to say; returns the outcomes the
/// client reported.
fn exchange(
    client: &mut SyncClient,
    server: &mut FakeServer,
    first: Vec<Vec<u8>>,
) -> Vec<serde_json::Value> {
    let mut outcomes = Vec::new();
    let mut inbox: Vec<Vec<u8>> = first.iter().flat_map(|f| server.receive(f)).collect();
    let mut rounds = 0;
    while !inbox.is_empty() && rounds < 20 {
        rounds += 1;
        let mut outbox = Vec::new();
        for frame in inbox.drain(..) {
            let outcome = client.receive(&frame).expect("receives");
            outcomes.push(serde_wasm_bindgen::from_value(outcome).expect("JSON"));
            for f in frames(client.outgoing()) {
                outbox.extend(server.receive(&f));
            }
        }
        inbox = outbox;
    }
    outcomes
}

fn frames(array: js_sys::Array) -> Vec<Vec<u8>> {
    array
        .iter()
        .map(|f| js_sys::Uint8Array::new(&f).to_vec())
        .collect()
}

#[wasm_bindgen_test]
fn a_walkaround_made_offline_syncs_and_is_acknowledged() {
    let mut client = SyncClient::new("tablet-1", "tablet-1");
    let id = client
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    client
        .answer(
            &id,
            "wang",
            "c8-booth-floor",
            answer("fail"),
            Some("rags".into()),
            vec![],
        )
        .expect("answers");
    assert_eq!(client.unacknowledged(), vec![id.clone()]);
    assert_eq!(
        client.pending_changes(),
        2,
        "the walkaround's creation and its answer wait for the server"
    );

    let mut server = FakeServer {
        session: ServerSession::new("server", "store"),
        doc: Automerge::new(),
        state: SyncState::new(),
        user: None,
    };
    let mut inbox = server.receive(&client.join());
    let mut rounds = 0;
    while !inbox.is_empty() && rounds < 20 {
        rounds += 1;
        let mut outbox = Vec::new();
        for frame in inbox.drain(..) {
            client.receive(&frame).expect("receives");
            for f in frames(client.outgoing()) {
                outbox.extend(server.receive(&f));
            }
        }
        inbox = outbox;
    }
    assert!(client.is_joined());
    assert!(
        client.unacknowledged().is_empty(),
        "the server reported our heads"
    );
    assert_eq!(
        client.pending_changes(),
        0,
        "nothing pending once acknowledged"
    );
    let mut server_heads = server.doc.get_heads();
    server_heads.sort();
    let restored = Automerge::load(&client.save(&id).expect("saves")).expect("loads");
    let mut ours = restored.get_heads();
    ours.sort();
    assert_eq!(server_heads, ours);
}

#[wasm_bindgen_test]
fn the_violation_list_follows_the_answers() {
    let mut client = SyncClient::new("t", "t");
    let id = client
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    client
        .set_occupied(&id, "wang", "bay-1", true)
        .expect("marks");
    client
        .answer(
            &id,
            "wang",
            "c2-fender-covers@bay-1",
            answer("fail"),
            None,
            vec![],
        )
        .expect("answers");
    let violations: serde_json::Value =
        serde_wasm_bindgen::from_value(client.violations(&id).expect("evaluates")).expect("JSON");
    assert_eq!(violations[0]["rule"], "C2");
    assert_eq!(violations[0]["area"]["id"], "bay-1");
    client
        .answer(
            &id,
            "wang",
            "c2-fender-covers@bay-1",
            answer("pass"),
            None,
            vec![],
        )
        .expect("answers");
    let violations: serde_json::Value =
        serde_wasm_bindgen::from_value(client.violations(&id).expect("evaluates")).expect("JSON");
    assert_eq!(violations.as_array().map(Vec::len), Some(0));
    let problems: serde_json::Value =
        serde_wasm_bindgen::from_value(client.submission_problems(&id).expect("reads"))
            .expect("JSON");
    assert!(
        problems.as_array().expect("a list").iter().any(|p| p["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("c1-visitors"))
            && p["reason"] == "not_answered"),
        "{problems}"
    );
}

#[wasm_bindgen_test]
fn bad_input_is_an_error_and_changes_nothing() {
    let mut client = SyncClient::new("t", "t");
    let id = client
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    let before = client.save(&id).expect("saves");
    assert!(
        client
            .answer(&id, "wang", "no such item", answer("pass"), None, vec![])
            .is_err()
    );
    assert!(
        client
            .answer(&id, "wang", "c7-oil-filters", answer("pass"), None, vec![])
            .is_err()
    );
    assert!(
        client
            .answer(
                &id,
                "wang",
                "c1-visitors",
                answer("pass"),
                None,
                vec!["not-a-hash".into()]
            )
            .is_err()
    );
    assert!(client.receive(&[0xff, 0x00]).is_err());
    assert!(client.load("not-an-id", &[1, 2, 3], None).is_err());
    assert!(
        client
            .create_inspection("site-1", JsValue::from_str("x"), areas(), "wang")
            .is_err()
    );
    assert_eq!(client.save(&id).expect("saves"), before);
    // A leave from the server closes the session.
    let leave = protocol::encode(&Message::Leave {
        sender_id: "server".into(),
    });
    let _ = client.receive(&leave);
}

#[wasm_bindgen_test]
fn only_the_roles_that_run_inspections_on_the_floor_keep_their_sites_documents() {
    let templates = js(&shared::builtin::templates());
    // As the app holds its user: the login's object, with more fields than the policy's.
    let user = |role: &str| {
        js(&serde_json::json!({
            "id": "u1", "role": role, "sites": ["demo-site"], "display_name": "某人",
        }))
    };
    let keeps = |role| client_wasm::keeps_site_documents(user(role), templates.clone()).ok();
    assert_eq!(keeps("workshop_manager"), Some(true));
    assert_eq!(keeps("team_lead"), Some(true));
    assert_eq!(
        keeps("office_admin"),
        Some(false),
        "the office opens on demand"
    );
    assert_eq!(keeps("technician"), Some(false), "runs no template");
    assert!(keeps("janitor").is_none(), "an unknown role is an error");
}

#[wasm_bindgen_test]
fn photo_references_are_sha256_hex() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[wasm_bindgen_test]
fn after_a_refusal_the_client_rebuilds_from_the_acknowledged_state_and_sends_what_is_allowed() {
    let mut client = SyncClient::new("tablet-1", "tablet-1");
    let id = client
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    client
        .answer(&id, "wang", "c8-booth-floor", answer("pass"), None, vec![])
        .expect("answers");
    let wang = shared::policy::User {
        id: shared::ids::UserId::parse("wang").expect("valid"),
        role: shared::role::Role::WorkshopManager,
        sites: [shared::ids::SiteId::parse("site-1").expect("valid")]
            .into_iter()
            .collect(),
    };
    let mut server = FakeServer {
        session: ServerSession::new("server", "store"),
        doc: Automerge::new(),
        state: SyncState::new(),
        user: Some(wang),
    };
    let join = client.join();
    exchange(&mut client, &mut server, vec![join]);
    assert!(client.unacknowledged().is_empty(), "acknowledged");

    // Offline on a shared tablet: an answer left under another user's name (the server
    // refuses it), then wang's own answer, which depends on it.
    client
        .answer(&id, "li", "c9-masking", answer("fail"), None, vec![])
        .expect("answers");
    client
        .answer(
            &id,
            "wang",
            "c8-mixing-table",
            answer("fail"),
            Some("paint".into()),
            vec![],
        )
        .expect("answers");
    let sent = frames(client.outgoing());
    let outcomes = exchange(&mut client, &mut server, sent);
    let refused: Vec<_> = outcomes
        .iter()
        .flat_map(|o| o["refused"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert_eq!(refused[0]["documentId"], id.as_str());
    let message = refused[0]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    assert!(message.starts_with("change refused: "), "{message}");
    assert!(frames(client.outgoing()).is_empty(), "held until recovered");
    assert_eq!(client.unacknowledged(), vec![id.clone()]);

    let me = js(&serde_json::json!({
        "id": "wang", "username": "wang", "display_name": "王强",
        "role": "workshop_manager", "sites": ["site-1"],
    }));
    let report: serde_json::Value = serde_wasm_bindgen::from_value(
        client.recover(&id, me.clone(), &message).expect("recovers"),
    )
    .expect("JSON");
    assert_eq!(report["removed"], false);
    assert_eq!(report["kept"], 1);
    let dropped = report["dropped"].as_array().expect("a list");
    assert_eq!(dropped.len(), 1, "{report}");
    assert_eq!(dropped[0]["kind"], "answer");
    assert_eq!(dropped[0]["key"], "c9-masking");
    assert_eq!(dropped[0]["code"], "forged_author");
    assert_eq!(
        format!(
            "change refused: {}",
            dropped[0]["reason"].as_str().expect("text")
        ),
        message,
        "the tablet's verdict is the server's"
    );
    assert!(dropped[0]["item"]["zh"].is_string());
    // A second call has nothing to recover.
    assert!(
        client
            .recover(&id, me, &message)
            .expect("answers")
            .is_null()
    );

    let sent = frames(client.outgoing());
    assert!(!sent.is_empty());
    let outcomes = exchange(&mut client, &mut server, sent);
    assert!(
        outcomes
            .iter()
            .all(|o| o["refused"].as_array().is_some_and(Vec::is_empty))
    );
    assert!(client.unacknowledged().is_empty(), "nothing pending");
    let stored = shared::inspection::read(&server.doc).expect("reads");
    let keys: Vec<String> = stored.answers.keys().map(ToString::to_string).collect();
    assert_eq!(keys, vec!["c8-booth-floor", "c8-mixing-table"]);
}

/// Joins `client` to a fresh server session; returns that session (the client's side of
/// a relay).
fn joined(client: &mut SyncClient) -> ServerSession {
    let mut server = ServerSession::new("server", "store");
    for event in server.receive(protocol::decode(&client.join()).expect("join")) {
        if let Event::Send(m) = event {
            client.receive(&protocol::encode(&m)).expect("peer");
        }
    }
    assert!(client.is_joined());
    server
}

/// What the server does with an `ephemeral` frame from one peer: the same message, with
/// sender, session and count unchanged, to the other.
fn relay(frame: &[u8], to: &ServerSession) -> Vec<u8> {
    let Message::Ephemeral {
        sender_id,
        document_id,
        session_id,
        count,
        data,
        ..
    } = protocol::decode(frame).expect("valid frame")
    else {
        panic!("an ephemeral message");
    };
    protocol::encode(&to.ephemeral(sender_id, document_id, session_id, count, data))
}

#[wasm_bindgen_test]
fn presence_shows_the_other_tablet_where_it_is_until_it_says_goodbye() {
    let mut a = SyncClient::new("tablet-a", "tablet-a");
    let mut b = SyncClient::new("tablet-b", "tablet-b");
    let id = a
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    let state = |area: &str| {
        js(&serde_json::json!({ "user": "wang", "name": "车间经理 王强", "area": area }))
    };
    assert!(
        a.presence(&id, state("bay-1")).expect("valid").is_none(),
        "nothing to send before the connection has joined"
    );
    joined(&mut a);
    let to_b = joined(&mut b);

    let first = a
        .presence(&id, state("bay-1"))
        .expect("valid")
        .expect("a frame");
    let outcome: serde_json::Value =
        serde_wasm_bindgen::from_value(b.receive(&relay(&first, &to_b)).expect("receives"))
            .expect("JSON");
    assert_eq!(outcome["presence"], serde_json::json!([id.clone()]));
    assert_eq!(
        outcome["announce"],
        serde_json::json!([id.clone()]),
        "a new peer is answered at once"
    );
    let now = js_sys::Date::now();
    let peers: serde_json::Value =
        serde_wasm_bindgen::from_value(b.peers(&id, now).expect("peers")).expect("JSON");
    assert_eq!(peers[0]["peerId"], "tablet-a");
    assert_eq!(peers[0]["name"], "车间经理 王强");
    assert_eq!(peers[0]["area"], "bay-1");
    let none: serde_json::Value =
        serde_wasm_bindgen::from_value(a.peers(&id, now).expect("peers")).expect("JSON");
    assert_eq!(none, serde_json::json!([]), "a does not list itself");

    // A later message has a higher count in the same session, so it is not a repeat.
    let moved = a
        .presence(&id, state("bay-2"))
        .expect("valid")
        .expect("a frame");
    b.receive(&relay(&moved, &to_b)).expect("receives");
    let peers: serde_json::Value =
        serde_wasm_bindgen::from_value(b.peers(&id, now).expect("peers")).expect("JSON");
    assert_eq!(peers[0]["area"], "bay-2");
    // Silent for more than three heartbeats: gone.
    let later: serde_json::Value =
        serde_wasm_bindgen::from_value(b.peers(&id, now + 16_000.0).expect("peers")).expect("JSON");
    assert_eq!(later, serde_json::json!([]));

    b.receive(&relay(&first, &to_b)).expect("receives");
    let bye = a.presence_goodbye(&id).expect("valid").expect("a frame");
    let outcome: serde_json::Value =
        serde_wasm_bindgen::from_value(b.receive(&relay(&bye, &to_b)).expect("receives"))
            .expect("JSON");
    assert_eq!(outcome["presence"], serde_json::json!([id.clone()]));
    let gone: serde_json::Value =
        serde_wasm_bindgen::from_value(b.peers(&id, js_sys::Date::now()).expect("peers"))
            .expect("JSON");
    assert_eq!(gone, serde_json::json!([]));
}

#[wasm_bindgen_test]
fn pending_changes_count_what_the_server_lacks_and_survive_a_reload() {
    let mut client = SyncClient::new("tablet-1", "tablet-1");
    let id = client
        .create_inspection("site-1", walkaround(), areas(), "wang")
        .expect("creates");
    let mut server = FakeServer {
        session: ServerSession::new("server", "store"),
        doc: Automerge::new(),
        state: SyncState::new(),
        user: None,
    };
    let join = client.join();
    exchange(&mut client, &mut server, vec![join]);
    assert_eq!(client.pending_changes(), 0, "acknowledged");
    let acked = client.acked(&id).expect("held").expect("acknowledged once");
    assert!(!acked.is_empty());

    // Reloaded with what it had acknowledged: nothing pending, not every document.
    let mut reloaded = SyncClient::new("tablet-1", "tablet-1");
    reloaded
        .load(&id, &client.save(&id).expect("saves"), Some(acked.clone()))
        .expect("loads");
    assert_eq!(reloaded.pending_changes(), 0);
    // Two answers made offline, then a reload: two pending, before and after.
    for key in ["c8-booth-floor", "c8-mixing-table"] {
        reloaded
            .answer(&id, "wang", key, answer("pass"), None, vec![])
            .expect("answers");
    }
    assert_eq!(reloaded.pending_changes(), 2);
    // Each record names the tablet that wrote it (its peer id).
    let state: serde_json::Value =
        serde_wasm_bindgen::from_value(reloaded.state(&id).expect("reads")).expect("JSON");
    assert_eq!(state["answers"]["c8-booth-floor"][0]["device"], "tablet-1");
    let saved_acked = reloaded.acked(&id).expect("held");
    let mut again = SyncClient::new("tablet-1", "tablet-1");
    again
        .load(&id, &reloaded.save(&id).expect("saves"), saved_acked)
        .expect("loads");
    assert_eq!(again.pending_changes(), 2);
    // Heads that are not the document's are ignored; without any, all of it is pending.
    let mut unknown = SyncClient::new("tablet-1", "tablet-1");
    unknown
        .load(
            &id,
            &reloaded.save(&id).expect("saves"),
            Some(vec!["not-a-hash".into(), "00".repeat(32)]),
        )
        .expect("loads");
    assert_eq!(
        unknown.pending_changes(),
        3,
        "the creation and both answers"
    );
}
