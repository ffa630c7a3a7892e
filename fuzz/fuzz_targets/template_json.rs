//! The largest JSON body the office sends, a template (`PUT /api/v1/templates/{id}`):
//! arbitrary bytes are refused or parsed, and a parsed template is validated into
//! field-level errors without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::template::Template;

fuzz_target!(|data: &[u8]| {
    if let Ok(template) = serde_json::from_slice::<Template>(data) {
        let _ = template.validate();
    }
});
