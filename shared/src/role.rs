//! The roles people hold in an after-sales company.

use serde::{Deserialize, Serialize};

use crate::i18n::Localized;

/// A person's role. One role per user; what each may do is decided in [`crate::policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The office: reviews violations, manages templates and users.
    OfficeAdmin,
    /// 车间经理: runs walkarounds; first responsible for the workshop rules (C).
    WorkshopManager,
    /// 班组长: runs the closing and lunch-break routines.
    TeamLead,
    /// 服务经理: answers for the front desk (B).
    ServiceManager,
    /// 备件经理: answers for the parts store (D).
    PartsManager,
    /// 客服主管: answers for the customer-service routine (A).
    CustomerServiceSupervisor,
    /// 技师: works on cars; reads checklists but does not answer them.
    Technician,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 7] = [
        Role::OfficeAdmin,
        Role::WorkshopManager,
        Role::TeamLead,
        Role::ServiceManager,
        Role::PartsManager,
        Role::CustomerServiceSupervisor,
        Role::Technician,
    ];

    /// The role's name as stored and sent on the wire (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OfficeAdmin => "office_admin",
            Role::WorkshopManager => "workshop_manager",
            Role::TeamLead => "team_lead",
            Role::ServiceManager => "service_manager",
            Role::PartsManager => "parts_manager",
            Role::CustomerServiceSupervisor => "customer_service_supervisor",
            Role::Technician => "technician",
        }
    }

    /// Parses the stored name of a role.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's display name in both languages.
    pub fn name(self) -> Localized {
        let (zh, en) = match self {
            Role::OfficeAdmin => ("办公室管理员", "Office admin"),
            Role::WorkshopManager => ("车间经理", "Workshop manager"),
            Role::TeamLead => ("班组长", "Team lead"),
            Role::ServiceManager => ("服务经理", "Service manager"),
            Role::PartsManager => ("备件经理", "Parts manager"),
            Role::CustomerServiceSupervisor => ("客服主管", "Customer-service supervisor"),
            Role::Technician => ("技师", "Technician"),
        };
        Localized::new(zh, en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_through_text_and_serde() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).expect("serializes");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("janitor"), None);
    }
}
