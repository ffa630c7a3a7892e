//! Checklist templates as data.
//!
//! A template is a list of items; each item is bound to a rule of the regulation, says what
//! kind of answer it takes, whether it repeats for every bay, occupied bay, room or entrance,
//! and what a failed answer must carry (a note, a photo). Templates are versioned: an
//! inspection copies the version it started with into its own document, so editing a
//! template never changes an inspection already under way.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalog::{self, Fine};
use crate::i18n::Localized;
use crate::ids::{ItemId, RuleId, TemplateId};
use crate::role::Role;
use crate::site::AreaKind;

/// The kind of answer an item takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemKind {
    /// Pass, fail or not applicable. A fail is one occurrence.
    PassFail,
    /// A whole count; every unit above `max` is one occurrence.
    Count {
        /// The largest count that is not a violation (0 for "must be none").
        max: u32,
    },
    /// A measured number; a value outside `min..=max` is one occurrence.
    Number {
        /// Smallest acceptable value.
        min: f64,
        /// Largest acceptable value.
        max: f64,
        /// Unit shown beside the field, such as `%`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Free text, such as a daily summary. Never a violation by itself.
    Text,
    /// One or more photos. Never a violation by itself.
    Photo,
    /// A signature, stored as a reference to its image. Never a violation by itself.
    Signature,
}

impl ItemKind {
    /// Whether answers of this kind can fail (and so produce a violation).
    pub fn can_fail(&self) -> bool {
        matches!(
            self,
            ItemKind::PassFail | ItemKind::Count { .. } | ItemKind::Number { .. }
        )
    }
}

/// Whether an item is asked once or once per area of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    /// Asked once per inspection.
    #[default]
    Once,
    /// Asked for every bay.
    PerBay,
    /// Asked for every bay the inspector marks as occupied by a car under repair.
    PerOccupiedBay,
    /// Asked for every room.
    PerRoom,
    /// Asked for every entrance.
    PerEntrance,
}

impl Repeat {
    /// The kind of area this item repeats over, if it repeats.
    pub fn area_kind(self) -> Option<AreaKind> {
        match self {
            Repeat::Once => None,
            Repeat::PerBay | Repeat::PerOccupiedBay => Some(AreaKind::Bay),
            Repeat::PerRoom => Some(AreaKind::Room),
            Repeat::PerEntrance => Some(AreaKind::Entrance),
        }
    }
}

/// When a checklist is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Any time, as often as wanted.
    AdHoc,
    /// Daily at opening.
    DailyOpening,
    /// Daily at the lunch break.
    DailyLunch,
    /// Daily at close.
    DailyClosing,
    /// Once a week.
    Weekly,
}

/// One question of a checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stable id within the template, kept across versions.
    pub id: ItemId,
    /// The rule of the regulation this item observes.
    pub rule: RuleId,
    /// The question, in both languages.
    pub text: Localized,
    /// The kind of answer.
    pub kind: ItemKind,
    /// Asked once or once per area.
    #[serde(default)]
    pub repeat: Repeat,
    /// Whether the inspection can be submitted without this item answered.
    #[serde(default = "yes")]
    pub required: bool,
    /// A failed answer must carry a photo.
    #[serde(default)]
    pub photo_required_on_fail: bool,
    /// A failed answer must carry a note.
    #[serde(default)]
    pub note_required_on_fail: bool,
    /// What each occurrence costs; must be the rule's fine or none.
    pub fine: Fine,
    /// The role that answers for a violation found by this item.
    pub responsible: Role,
}

fn yes() -> bool {
    true
}

/// A checklist template, one version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Stable id shared by all versions.
    pub id: TemplateId,
    /// Version, from 1; every edit makes a new one.
    pub version: u32,
    /// Display name.
    pub name: Localized,
    /// Roles that may start an inspection of this template.
    pub run_by: Vec<Role>,
    /// When it is due.
    pub cadence: Cadence,
    /// The questions, in the order they are asked.
    pub items: Vec<Item>,
}

/// One problem with a template (or another body), located by a path such as
/// `items[3].kind.max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the problem is, as a JSON-like path.
    pub field: String,
    /// What is wrong, as a stable snake_case code the app translates (docs/API.md).
    pub reason: &'static str,
    /// The values the reason's sentence names, besides the field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// What is wrong, in English.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`, for `reason`, said in English by `message`.
    pub fn new(field: impl Into<String>, reason: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason,
            params: BTreeMap::new(),
            message: message.into(),
        }
    }

    /// This problem with one more value its sentence names.
    pub fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self
    }
}

impl Template {
    /// The item with this id.
    pub fn item(&self, id: &ItemId) -> Option<&Item> {
        self.items.iter().find(|i| &i.id == id)
    }

    /// Checks everything serde cannot: every problem is reported, each with its field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: String, reason: &'static str, message: &str| {
            errors.push(FieldError::new(field, reason, message))
        };
        if self.version == 0 {
            err("version".into(), "version_below_one", "must be 1 or more");
        }
        if self.name.zh.trim().is_empty() {
            err("name.zh".into(), "empty", "must not be empty");
        }
        if self.name.en.trim().is_empty() {
            err("name.en".into(), "empty", "must not be empty");
        }
        if self.run_by.is_empty() {
            err("run_by".into(), "no_roles", "must name at least one role");
        }
        if self.items.is_empty() {
            err(
                "items".into(),
                "no_items",
                "a template needs at least one item",
            );
        }
        let mut seen = BTreeSet::new();
        for (n, item) in self.items.iter().enumerate() {
            let at = |f: &str| format!("items[{n}].{f}");
            if !seen.insert(&item.id) {
                err(at("id"), "duplicate_item_id", "is used by an earlier item");
            }
            if item.text.zh.trim().is_empty() {
                err(at("text.zh"), "empty", "must not be empty");
            }
            if item.text.en.trim().is_empty() {
                err(at("text.en"), "empty", "must not be empty");
            }
            match catalog::find(&item.rule) {
                None => err(
                    at("rule"),
                    "unknown_rule",
                    "is not a rule of the regulation",
                ),
                Some(rule) => {
                    if item.fine != Fine::None && item.fine != rule.fine {
                        err(
                            at("fine"),
                            "fine_not_the_rules",
                            "must be the rule's own fine, or none",
                        );
                    }
                }
            }
            if let ItemKind::Number { min, max, .. } = &item.kind {
                if !min.is_finite() {
                    err(at("kind.min"), "not_finite", "must be a finite number");
                }
                if !max.is_finite() {
                    err(at("kind.max"), "not_finite", "must be a finite number");
                }
                if min > max {
                    err(at("kind.max"), "max_below_min", "must not be below min");
                }
            }
            let fails = item.kind.can_fail();
            if !fails && item.fine != Fine::None {
                err(
                    at("fine"),
                    "fine_on_item_that_cannot_fail",
                    "an item that cannot fail cannot carry a fine",
                );
            }
            if !fails && (item.photo_required_on_fail || item.note_required_on_fail) {
                err(
                    at("kind"),
                    "evidence_on_item_that_cannot_fail",
                    "evidence on fail only applies to pass/fail, count and number items",
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    fn walkaround() -> Template {
        builtin::templates()
            .into_iter()
            .next()
            .expect("there are built-in templates")
    }

    #[test]
    fn every_invalid_field_is_reported_with_its_path() {
        let mut t = walkaround();
        t.version = 0;
        t.name.en = " ".into();
        t.run_by.clear();
        t.items[1].id = t.items[0].id.clone();
        t.items[0].kind = ItemKind::Number {
            min: 5.0,
            max: f64::NAN,
            unit: None,
        };
        t.items[2].fine = Fine::PerOccurrence { yuan: 999 };
        let errors = t.validate().expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "version",
                "name.en",
                "run_by",
                "items[0].kind.max",
                "items[1].id",
                "items[2].fine"
            ]
        );
    }

    #[test]
    fn items_that_cannot_fail_carry_no_fine_or_fail_evidence() {
        let mut t = walkaround();
        t.items[0].kind = ItemKind::Text;
        t.items[0].photo_required_on_fail = true;
        let errors = t.validate().expect_err("invalid");
        assert_eq!(errors[0].field, "items[0].kind");
    }

    #[test]
    fn an_item_bound_to_an_unknown_rule_is_refused() {
        let mut t = walkaround();
        t.items[0].rule = RuleId::parse("B2").expect("well-formed");
        let errors = t.validate().expect_err("B2 is not in the regulation");
        assert_eq!(errors[0].field, "items[0].rule");
    }

    #[test]
    fn templates_round_trip_through_json() {
        for t in builtin::templates() {
            let json = serde_json::to_string(&t).expect("serializes");
            let back: Template = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, t);
        }
    }
}
