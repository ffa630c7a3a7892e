//! The regulation, rule by rule: `../shared/reference/REGULATION.md` as data.
//!
//! Each rule has a stable id, the roles that answer for it and what breaking it costs.
//! Templates bind their items to these ids; the fine an item carries is checked against
//! the catalog when a template is validated, so a template cannot quietly invent a fine
//! the regulation does not have.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::i18n::Localized;
use crate::ids::RuleId;
use crate::role::Role;

/// What breaking a rule costs, per occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fine {
    /// The rule is checked but carries no fine.
    None,
    /// A fine in whole yuan for each occurrence.
    PerOccurrence {
        /// Yuan per occurrence.
        yuan: u32,
    },
    /// Not a fine: the case is flagged for management (C3, fluids kept back).
    DismissalReview,
    /// The borrower pays the list price of a lost tool or replaces it (D5).
    ReplaceTool,
}

/// A section of the regulation, named after who answers for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Section {
    /// A: customer-service supervisor's daily routine.
    A,
    /// B: front desk, general repair.
    B,
    /// C: the workshop.
    C,
    /// D: the parts store.
    D,
}

/// One rule of the regulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id, such as `C2`.
    pub id: RuleId,
    /// The section the rule belongs to.
    pub section: Section,
    /// What the rule asks, in both languages.
    pub title: Localized,
    /// The roles that answer for it, first responsible first.
    pub owners: Vec<Role>,
    /// What breaking it costs.
    pub fine: Fine,
}

fn rule(id: &str, title_zh: &str, title_en: &str, fine: Fine) -> Rule {
    let id = RuleId::parse(id).expect("catalog ids are valid by construction");
    let (section, owners) = match id.section() {
        'A' => (Section::A, vec![Role::CustomerServiceSupervisor]),
        'B' => (Section::B, vec![Role::ServiceManager]),
        'C' => (Section::C, vec![Role::WorkshopManager, Role::TeamLead]),
        _ => (Section::D, vec![Role::PartsManager]),
    };
    Rule {
        id,
        section,
        title: Localized::new(title_zh, title_en),
        owners,
        fine,
    }
}

static CATALOG: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use Fine::*;
    vec![
        rule(
            "A1",
            "准时到岗，检查各岗位员工仪容仪表，做出当日工作安排",
            "At post on time; check every post's staff appearance; set the day's plan",
            None,
        ),
        rule(
            "A2",
            "每天对工作结果做书面汇总，上报经理",
            "Write a daily summary of results and report it to the manager",
            None,
        ),
        rule(
            "A3",
            "检查客服小组、投诉接待中心工作质量，给予监督、指导",
            "Supervise the follow-up team and complaint desk; guide staff",
            None,
        ),
        rule(
            "A4",
            "妥善处理各类顾客反馈信息（来信、贺卡、电话、投诉）",
            "Handle all customer feedback (letters, cards, calls, complaints) properly",
            None,
        ),
        rule(
            "B1",
            "达成厂家和集团数据指标，管理客户数据，落实前台接待流程",
            "Meet manufacturer and group KPIs; manage customer data; run the reception process",
            None,
        ),
        rule(
            "B4",
            "客户埋怨、投诉不能消除且隐瞒上级主管",
            "Unresolved customer complaint hidden from the supervisor",
            PerOccurrence { yuan: 20 },
        ),
        rule(
            "B5",
            "一般维修9折权限每周5单，每单上报打折理由；多车部分须报备",
            "General-repair 10% discount: at most 5 orders a week, each reason reported; extra orders reported in advance",
            PerOccurrence { yuan: 20 },
        ),
        rule(
            "B6",
            "事故车毛利率低于30%须阐明原因",
            "Accident repairs below 30% gross margin must state the reason",
            PerOccurrence { yuan: 50 },
        ),
        rule(
            "C1",
            "车间禁止无关人员进入；客户、陌生人须主动接待并陪同",
            "No unauthorised persons in the workshop; visitors are greeted and accompanied",
            None,
        ),
        rule(
            "C2",
            "维修车辆必须使用车内三件套和叶子板护罩",
            "Every car under repair has the interior three-piece set and fender covers",
            None,
        ),
        rule(
            "C3",
            "保养用机油、养护品、易损件必须给客户更换，私自截留者直接开除",
            "Booked oil, fluids and wear parts are really fitted; keeping them back means dismissal",
            DismissalReview,
        ),
        rule(
            "C4",
            "功能房间随手关门，关键房间上锁；午休时非必要入口关门",
            "Function-room doors closed, key rooms locked; non-essential entrances closed at lunch",
            None,
        ),
        rule(
            "C5",
            "空闲时关闭车间灯管、电扇、设备、烤房",
            "When idle, workshop lights, fans, equipment and the paint-booth oven are off",
            None,
        ),
        rule(
            "C6",
            "拆车件使用货架和整理箱放置，不占工位、过道",
            "Removed parts go on shelves or in boxes, never on bays or aisles",
            None,
        ),
        rule(
            "C7",
            "旧件及时清理；工作台、垃圾桶、接油车保持干净，机油格不超过3个",
            "Old parts cleared; benches, bins and oil-drain cart clean; at most 3 oil filters on the cart",
            None,
        ),
        rule(
            "C8",
            "烤漆房地面无杂物；调漆桌及地面不铺报纸等覆盖物",
            "Paint-booth floor clear; nothing laid on the mixing table or its floor",
            None,
        ),
        rule(
            "C9",
            "遮蔽使用卷式遮蔽纸或遮蔽膜，禁用报纸；喷涂件放喷漆架",
            "Masking with roll paper or film, never newspaper; sprayed parts on paint stands",
            None,
        ),
        rule(
            "D1",
            "见单发料，工单随车走",
            "Parts issued only against a repair order, which travels with the car",
            None,
        ),
        rule(
            "D2",
            "业务系统开工并出库后方可领料",
            "Job started and parts booked out in the system before the team picks them",
            None,
        ),
        rule(
            "D3",
            "事故车报价单须负责人签字方可订货，备件名称字体端正",
            "Accident quotes signed before ordering; part names legible",
            PerOccurrence { yuan: 30 },
        ),
        rule(
            "D4",
            "追加备件由服务顾问在报价单新增并经签字确认后订货",
            "Extra parts added to the quote by the advisor and signed again before ordering",
            None,
        ),
        rule(
            "D5",
            "专用工具借出登记，用完即还；丢失由借用人原价赔偿或购买同型号",
            "Special tools logged and returned; a lost tool is paid or replaced by the borrower",
            ReplaceTool,
        ),
        rule(
            "D6",
            "二次增项与前台确认后领料",
            "A second round of additional work confirmed with the front desk before picking parts",
            None,
        ),
        rule(
            "D7",
            "工单已出库并使用的备件拒绝退库",
            "Parts booked out and used are never returned to stock",
            None,
        ),
        rule(
            "D8",
            "索赔订货须向客户收取订金，更换后退还",
            "Warranty-part orders take a deposit from the customer, refunded once fitted",
            None,
        ),
        rule(
            "D9",
            "索赔订货须车间经理签字，大金额须售后总监签字",
            "Warranty orders signed by the workshop manager; large amounts also by the director",
            None,
        ),
        rule(
            "D10",
            "自采须严格三家价格对比",
            "Self-procurement always with a three-vendor price comparison",
            None,
        ),
        rule(
            "D11",
            "实物退回仓库后系统方可退料",
            "The physical part reaches the store before the system return",
            None,
        ),
        rule(
            "D12",
            "销售部耗材按内部领用开单，计售后成本，严控领用量",
            "Consumables drawn by sales booked as internal requisitions at after-sales cost",
            None,
        ),
    ]
});

/// Every rule of the regulation, in regulation order.
pub fn rules() -> &'static [Rule] {
    &CATALOG
}

/// The rule with this id, if the regulation has one.
pub fn find(id: &RuleId) -> Option<&'static Rule> {
    CATALOG.iter().find(|r| &r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_holds_exactly_the_rules_of_the_regulation() {
        let ids: Vec<&str> = rules().iter().map(|r| r.id.as_str()).collect();
        let expected: Vec<String> = ["A1", "A2", "A3", "A4", "B1", "B4", "B5", "B6"]
            .iter()
            .map(|s| s.to_string())
            .chain((1..=9).map(|n| format!("C{n}")))
            .chain((1..=12).map(|n| format!("D{n}")))
            .collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn fines_match_the_regulation() {
        let fine = |id: &str| find(&RuleId::parse(id).expect("valid")).map(|r| r.fine);
        assert_eq!(fine("B4"), Some(Fine::PerOccurrence { yuan: 20 }));
        assert_eq!(fine("B5"), Some(Fine::PerOccurrence { yuan: 20 }));
        assert_eq!(fine("B6"), Some(Fine::PerOccurrence { yuan: 50 }));
        assert_eq!(fine("D3"), Some(Fine::PerOccurrence { yuan: 30 }));
        assert_eq!(fine("C3"), Some(Fine::DismissalReview));
        assert_eq!(fine("D5"), Some(Fine::ReplaceTool));
        let fined = rules().iter().filter(|r| r.fine != Fine::None).count();
        assert_eq!(
            fined, 6,
            "only B4, B5, B6, C3, D3 and D5 carry a consequence"
        );
    }

    #[test]
    fn every_rule_is_owned_by_its_section() {
        for r in rules() {
            let expected = match r.section {
                Section::A => Role::CustomerServiceSupervisor,
                Section::B => Role::ServiceManager,
                Section::C => Role::WorkshopManager,
                Section::D => Role::PartsManager,
            };
            assert_eq!(r.owners[0], expected, "{}", r.id);
        }
    }
}
