//! The permission matrix, generated: every role × every action × its own site or another
//! site, checked against the table below, which is written out by hand from the
//! regulation's division of duties (not derived from the code under test).

use std::collections::BTreeSet;

use shared::ids::{SiteId, UserId};
use shared::policy::{Action, User, authorize};
use shared::role::Role;

/// Who may do what at their own site: R read, C create an inspection, A answer,
/// S submit, V review, W waive, T edit templates, U manage users and sites.
const TABLE: [(Role, &str); 7] = [
    (Role::OfficeAdmin, "RCASVWTU"),
    (Role::WorkshopManager, "RCASVW"),
    (Role::ServiceManager, "RCASVW"),
    (Role::PartsManager, "RCASVW"),
    (Role::TeamLead, "RCAS"),
    (Role::CustomerServiceSupervisor, "RCAS"),
    (Role::Technician, "R"),
];

fn letter(action: Action) -> char {
    match action {
        Action::Read => 'R',
        Action::CreateInspection => 'C',
        Action::Answer => 'A',
        Action::Submit => 'S',
        Action::Review => 'V',
        Action::Waive => 'W',
        Action::EditTemplate => 'T',
        Action::ManageUsers => 'U',
    }
}

#[test]
fn every_role_action_and_site_is_allowed_or_denied_as_the_table_says() {
    let own = SiteId::parse("site-a").expect("valid");
    let other = SiteId::parse("site-b").expect("valid");
    assert_eq!(TABLE.len(), Role::ALL.len(), "every role is in the table");
    let mut checked = 0;
    for (role, allowed) in TABLE {
        let user = User {
            id: UserId::parse("someone").expect("valid"),
            role,
            sites: BTreeSet::from([own.clone()]),
        };
        for action in Action::ALL {
            let expected = allowed.contains(letter(action));
            assert_eq!(
                authorize(&user, action, Some(&own)).is_ok(),
                expected,
                "{role:?} {action:?} at its own site"
            );
            assert!(
                authorize(&user, action, Some(&other)).is_err(),
                "{role:?} {action:?} at another site is always denied"
            );
            checked += 2;
        }
    }
    assert_eq!(checked, 7 * 8 * 2);
}

#[test]
fn a_refusal_reads_as_a_sentence_never_as_rust_names() {
    let lead = User {
        id: UserId::parse("li").expect("valid"),
        role: Role::TeamLead,
        sites: BTreeSet::from([SiteId::parse("demo-site").expect("valid")]),
    };
    let denial =
        authorize(&lead, Action::Waive, lead.sites.first()).expect_err("a team lead may not waive");
    assert_eq!(denial.to_string(), "a team lead may not waive a fine");
    for role in Role::ALL {
        for action in Action::ALL {
            let user = User {
                role,
                ..lead.clone()
            };
            if let Err(denial) = authorize(&user, action, user.sites.first()) {
                let text = denial.to_string();
                assert!(
                    !text.chars().any(|c| c.is_ascii_uppercase()),
                    "{text}: no CamelCase role or action names"
                );
            }
        }
    }
}
