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

/// The server side of the exchange: the shared session and one document.
struct FakeServer {
    session: ServerSession,
    doc: Automerge,
    state: SyncState,
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
                    self.doc
                        .receive_sync_message(&mut self.state, message)
                        .expect("applies");
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

    let mut server = FakeServer {
        session: ServerSession::new("server", "store"),
        doc: Automerge::new(),
        state: SyncState::new(),
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
    assert!(
        client
            .submission_problems(&id)
            .expect("reads")
            .iter()
            .any(|p| p.starts_with("c1-visitors"))
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
    assert!(client.load("not-an-id", &[1, 2, 3]).is_err());
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
fn photo_references_are_sha256_hex() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
