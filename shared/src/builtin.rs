//! The six built-in checklists suggested by the regulation (REGULATION.md, last table).
//!
//! Every rule A1–D12 is observed by at least one item. Fines come from the catalog, so a
//! built-in item never disagrees with the regulation; items whose observation is not itself
//! the fined act (the count of discounts under B5, say) carry no fine.

use crate::catalog::{self, Fine};
use crate::i18n::Localized;
use crate::ids::{ItemId, RuleId, TemplateId};
use crate::role::Role;
use crate::template::{Cadence, Item, ItemKind, Repeat, Template};

/// Id of the workshop walkaround (车间巡检).
pub const WALKAROUND: &str = "workshop-walkaround";
/// Id of the closing routine (收工检查).
pub const CLOSING: &str = "closing-routine";
/// Id of the lunch-break check (午休检查).
pub const LUNCH: &str = "lunch-break-check";
/// Id of the parts-store audit (备件抽查).
pub const PARTS_AUDIT: &str = "parts-store-audit";
/// Id of the front-desk weekly review (前台周检).
pub const FRONT_DESK: &str = "front-desk-weekly";
/// Id of the supervisor's opening check (晨检).
pub const OPENING: &str = "supervisor-opening";

/// A compact way to write an item; `fined` takes the rule's fine from the catalog.
struct ItemSpec {
    id: &'static str,
    rule: &'static str,
    zh: &'static str,
    en: &'static str,
    kind: ItemKind,
    repeat: Repeat,
    fined: bool,
    photo_on_fail: bool,
    note_on_fail: bool,
    required: bool,
}

fn spec(id: &'static str, rule: &'static str, zh: &'static str, en: &'static str) -> ItemSpec {
    ItemSpec {
        id,
        rule,
        zh,
        en,
        kind: ItemKind::PassFail,
        repeat: Repeat::Once,
        fined: true,
        photo_on_fail: false,
        note_on_fail: false,
        required: true,
    }
}

impl ItemSpec {
    fn count(mut self, max: u32) -> Self {
        self.kind = ItemKind::Count { max };
        self
    }
    fn kind(mut self, kind: ItemKind) -> Self {
        self.kind = kind;
        self.fined = false;
        self
    }
    fn repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }
    fn unfined(mut self) -> Self {
        self.fined = false;
        self
    }
    fn photo(mut self) -> Self {
        self.photo_on_fail = true;
        self
    }
    fn note(mut self) -> Self {
        self.note_on_fail = true;
        self
    }
    fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    fn build(self, responsible: Role) -> Item {
        let rule = RuleId::parse(self.rule).expect("built-in rule ids are valid");
        let fine = match (self.fined, catalog::find(&rule)) {
            (true, Some(r)) => r.fine,
            _ => Fine::None,
        };
        Item {
            id: ItemId::parse(self.id).expect("built-in item ids are valid"),
            rule,
            text: Localized::new(self.zh, self.en),
            kind: self.kind,
            repeat: self.repeat,
            required: self.required,
            photo_required_on_fail: self.photo_on_fail,
            note_required_on_fail: self.note_on_fail,
            fine,
            responsible,
        }
    }
}

fn template(
    id: &str,
    zh: &str,
    en: &str,
    run_by: Vec<Role>,
    cadence: Cadence,
    responsible: Role,
    items: Vec<ItemSpec>,
) -> Template {
    Template {
        id: TemplateId::parse(id).expect("built-in template ids are valid"),
        version: 1,
        name: Localized::new(zh, en),
        run_by,
        cadence,
        items: items.into_iter().map(|s| s.build(responsible)).collect(),
    }
}

/// The six built-in templates, walkaround first.
pub fn templates() -> Vec<Template> {
    use Repeat::*;
    use Role::*;
    vec![
        template(
            WALKAROUND,
            "车间巡检",
            "Workshop walkaround",
            vec![WorkshopManager],
            Cadence::AdHoc,
            WorkshopManager,
            vec![
                spec(
                    "c1-visitors",
                    "C1",
                    "车间内无无关人员；客户、陌生人有人接待陪同",
                    "No unauthorised persons; any visitor is greeted and accompanied",
                )
                .note(),
                spec(
                    "c2-interior-set",
                    "C2",
                    "车内三件套（座椅套、方向盘套、脚垫）已使用",
                    "Interior three-piece set (seat, steering-wheel cover, floor mat) fitted",
                )
                .repeat(PerOccupiedBay)
                .photo(),
                spec(
                    "c2-fender-covers",
                    "C2",
                    "叶子板护罩已使用",
                    "Fender covers fitted",
                )
                .repeat(PerOccupiedBay)
                .photo(),
                spec(
                    "c3-fluids-fitted",
                    "C3",
                    "抽查：保养机油、养护品、易损件已实际更换",
                    "Spot check: booked oil, fluids and wear parts really fitted",
                )
                .note()
                .optional(),
                spec(
                    "c6-bay-clear",
                    "C6",
                    "拆车件放货架或整理箱，工位无堆放",
                    "Removed parts on shelves or in boxes, nothing left on the bay",
                )
                .repeat(PerBay)
                .photo(),
                spec(
                    "c6-aisles-clear",
                    "C6",
                    "过道无拆车件占用",
                    "Aisles free of removed parts",
                )
                .photo(),
                spec(
                    "c7-old-parts",
                    "C7",
                    "旧件已及时清理，未堆放车间",
                    "Old parts cleared, not piled in the workshop",
                )
                .photo(),
                spec(
                    "c7-benches-clean",
                    "C7",
                    "工作台、垃圾桶、接油车干净",
                    "Workbenches, bins and oil-drain cart clean",
                )
                .photo(),
                spec(
                    "c7-oil-filters",
                    "C7",
                    "接油车上的机油格数量（最多3个）",
                    "Oil filters on the oil-drain cart (at most 3)",
                )
                .count(3)
                .photo(),
                spec(
                    "c8-booth-floor",
                    "C8",
                    "烤漆房地面无杂物",
                    "Paint-booth floor free of clutter",
                )
                .photo(),
                spec(
                    "c8-mixing-table",
                    "C8",
                    "调漆桌表面及地面未铺报纸等覆盖物",
                    "Nothing laid on the mixing table or its floor",
                )
                .photo(),
                spec(
                    "c9-masking",
                    "C9",
                    "遮蔽使用卷式遮蔽纸或遮蔽膜，未用报纸",
                    "Masking done with roll paper or film, not newspaper",
                )
                .photo(),
                spec(
                    "c9-paint-stands",
                    "C9",
                    "喷涂件放在喷漆架上，未放地面、垃圾桶或椅子",
                    "Parts being sprayed on paint stands, not on the floor, bins or chairs",
                )
                .photo(),
            ],
        ),
        template(
            CLOSING,
            "收工检查",
            "Closing routine",
            vec![TeamLead, WorkshopManager],
            Cadence::DailyClosing,
            TeamLead,
            vec![
                spec(
                    "c4-room-doors",
                    "C4",
                    "房间门已关闭，关键房间已上锁",
                    "Door closed; locked if a key room",
                )
                .repeat(PerRoom)
                .photo(),
                spec("c5-lights", "C5", "车间灯管已关闭", "Workshop lights off"),
                spec("c5-fans", "C5", "电扇已关闭", "Fans off"),
                spec("c5-equipment", "C5", "设备已关闭", "Equipment off"),
                spec("c5-booth-oven", "C5", "烤房已关闭", "Paint-booth oven off").photo(),
            ],
        ),
        template(
            LUNCH,
            "午休检查",
            "Lunch-break check",
            vec![TeamLead, WorkshopManager],
            Cadence::DailyLunch,
            TeamLead,
            vec![
                spec(
                    "c4-entrances",
                    "C4",
                    "非必要入口已关门",
                    "Non-essential entrance closed",
                )
                .repeat(PerEntrance)
                .photo(),
                spec(
                    "c5-lights",
                    "C5",
                    "空闲区域灯管已关闭",
                    "Lights off where idle",
                ),
                spec("c5-fans", "C5", "空闲区域电扇已关闭", "Fans off where idle"),
                spec("c5-equipment", "C5", "空闲设备已关闭", "Idle equipment off"),
                spec(
                    "c5-booth-oven",
                    "C5",
                    "烤房未使用时已关闭",
                    "Paint-booth oven off when not in use",
                ),
            ],
        ),
        template(
            PARTS_AUDIT,
            "备件抽查",
            "Parts-store audit",
            vec![PartsManager, OfficeAdmin],
            Cadence::Weekly,
            PartsManager,
            vec![
                spec(
                    "d1-no-order",
                    "D1",
                    "无维修工单发料的次数",
                    "Parts issued without a repair order",
                )
                .count(0)
                .note(),
                spec(
                    "d2-not-booked",
                    "D2",
                    "未开工出库即领料的次数",
                    "Parts picked before the job was started and booked out",
                )
                .count(0)
                .note(),
                spec(
                    "d3-unsigned-quotes",
                    "D3",
                    "未签字或字迹不清的事故车报价单数",
                    "Accident quotes unsigned or illegible",
                )
                .count(0)
                .photo(),
                spec(
                    "d4-unsigned-additions",
                    "D4",
                    "未经签字确认即订货的追加备件数",
                    "Extra parts ordered before the quote was signed again",
                )
                .count(0),
                spec(
                    "d5-tool-loans",
                    "D5",
                    "专用工具借出均已登记并归还",
                    "All special-tool loans logged and returned",
                )
                .note(),
                spec(
                    "d6-second-round",
                    "D6",
                    "二次增项已与前台确认后领料",
                    "Second-round work confirmed with the front desk before picking",
                ),
                spec(
                    "d7-no-restock",
                    "D7",
                    "已出库使用的备件未退库",
                    "No used, booked-out parts returned to stock",
                ),
                spec(
                    "d8-no-deposit",
                    "D8",
                    "未收订金的索赔订货数",
                    "Warranty orders without a deposit",
                )
                .count(0),
                spec(
                    "d9-missing-signatures",
                    "D9",
                    "缺少签字的索赔订货数",
                    "Warranty orders missing a signature",
                )
                .count(0),
                spec(
                    "d10-no-comparison",
                    "D10",
                    "无三家比价的自采数",
                    "Self-purchases without three quotes",
                )
                .count(0),
                spec(
                    "d11-returns",
                    "D11",
                    "退料均先实物入库再系统退料",
                    "Returns: the part reached the store before the system return",
                ),
                spec(
                    "d12-consumables",
                    "D12",
                    "销售部耗材按内部领用开单并受控",
                    "Sales consumables booked as internal requisitions and controlled",
                )
                .note(),
            ],
        ),
        template(
            FRONT_DESK,
            "前台周检",
            "Front-desk weekly review",
            vec![ServiceManager],
            Cadence::Weekly,
            ServiceManager,
            vec![
                spec(
                    "b1-kpi-review",
                    "B1",
                    "本周指标、客户数据与接待流程回顾",
                    "This week's KPIs, customer data and reception process",
                )
                .kind(ItemKind::Text),
                spec(
                    "b4-hidden-complaints",
                    "B4",
                    "隐瞒上级的未消除投诉数",
                    "Unresolved complaints hidden from the supervisor",
                )
                .count(0)
                .note(),
                spec(
                    "b5-discounts",
                    "B5",
                    "本周9折订单数（最多5单）",
                    "10% discount orders this week (at most 5)",
                )
                .count(5)
                .unfined(),
                spec(
                    "b5-unreported",
                    "B5",
                    "未上报理由或未报备的打折订单数",
                    "Discount orders not reported",
                )
                .count(0)
                .note(),
                spec(
                    "b6-low-margin",
                    "B6",
                    "毛利率低于30%且未说明原因的事故车订单数",
                    "Accident orders below 30% margin without a reason",
                )
                .count(0)
                .note(),
            ],
        ),
        template(
            OPENING,
            "晨检",
            "Supervisor's opening check",
            vec![CustomerServiceSupervisor],
            Cadence::DailyOpening,
            CustomerServiceSupervisor,
            vec![
                spec("a1-on-time", "A1", "准时到岗", "At post on time"),
                spec(
                    "a1-appearance",
                    "A1",
                    "各岗位员工仪容仪表已检查",
                    "Every post's staff appearance checked",
                )
                .note(),
                spec(
                    "a1-day-plan",
                    "A1",
                    "当日工作安排已做出",
                    "The day's work plan set",
                ),
                spec(
                    "a2-summary-sent",
                    "A2",
                    "昨日工作书面汇总已上报经理",
                    "Yesterday's written summary reported to the manager",
                ),
                spec("a2-summary", "A2", "工作汇总", "Summary of results")
                    .kind(ItemKind::Text)
                    .optional(),
                spec(
                    "a3-supervision",
                    "A3",
                    "已检查客服小组、投诉中心工作质量并给予指导",
                    "Follow-up team and complaint desk checked and guided",
                )
                .note(),
                spec(
                    "a4-unhandled-feedback",
                    "A4",
                    "未妥善处理的顾客反馈数",
                    "Customer feedback not yet handled",
                )
                .count(0)
                .note(),
            ],
        ),
    ]
}

/// The built-in template with this id.
pub fn find(id: &str) -> Option<Template> {
    templates().into_iter().find(|t| t.id.as_str() == id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn there_are_six_valid_templates() {
        let all = templates();
        assert_eq!(all.len(), 6);
        for t in &all {
            assert_eq!(t.validate(), Ok(()), "{}", t.id);
        }
        let ids: BTreeSet<_> = all.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 6, "template ids are unique");
    }

    #[test]
    fn every_rule_of_the_regulation_is_observed_by_some_item() {
        let observed: BTreeSet<String> = templates()
            .iter()
            .flat_map(|t| t.items.iter().map(|i| i.rule.to_string()))
            .collect();
        let all: BTreeSet<String> = catalog::rules().iter().map(|r| r.id.to_string()).collect();
        assert_eq!(observed, all);
    }

    #[test]
    fn each_template_observes_the_rules_the_regulation_assigns_it() {
        let rules = |id: &str| -> BTreeSet<String> {
            find(id)
                .expect("built-in")
                .items
                .iter()
                .map(|i| i.rule.to_string())
                .collect()
        };
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            rules(WALKAROUND),
            set(&["C1", "C2", "C3", "C6", "C7", "C8", "C9"])
        );
        assert_eq!(rules(CLOSING), set(&["C4", "C5"]));
        assert_eq!(rules(LUNCH), set(&["C4", "C5"]));
        assert_eq!(rules(FRONT_DESK), set(&["B1", "B4", "B5", "B6"]));
        assert_eq!(rules(OPENING), set(&["A1", "A2", "A3", "A4"]));
        assert_eq!(rules(PARTS_AUDIT).len(), 12);
    }

    #[test]
    fn fined_items_carry_the_regulation_amounts() {
        let fine = |t: &str, item: &str| {
            find(t)
                .and_then(|t| t.items.into_iter().find(|i| i.id.as_str() == item))
                .map(|i| i.fine)
        };
        assert_eq!(
            fine(FRONT_DESK, "b4-hidden-complaints"),
            Some(Fine::PerOccurrence { yuan: 20 })
        );
        assert_eq!(
            fine(FRONT_DESK, "b5-unreported"),
            Some(Fine::PerOccurrence { yuan: 20 })
        );
        assert_eq!(fine(FRONT_DESK, "b5-discounts"), Some(Fine::None));
        assert_eq!(
            fine(FRONT_DESK, "b6-low-margin"),
            Some(Fine::PerOccurrence { yuan: 50 })
        );
        assert_eq!(
            fine(PARTS_AUDIT, "d3-unsigned-quotes"),
            Some(Fine::PerOccurrence { yuan: 30 })
        );
        assert_eq!(fine(PARTS_AUDIT, "d5-tool-loans"), Some(Fine::ReplaceTool));
        assert_eq!(
            fine(WALKAROUND, "c3-fluids-fitted"),
            Some(Fine::DismissalReview)
        );
    }

    #[test]
    fn c2_repeats_for_each_occupied_bay_for_both_covers() {
        let t = find(WALKAROUND).expect("built-in");
        let c2: Vec<_> = t.items.iter().filter(|i| i.rule.as_str() == "C2").collect();
        assert_eq!(c2.len(), 2);
        assert!(c2.iter().all(|i| i.repeat == Repeat::PerOccupiedBay));
    }

    #[test]
    fn every_item_has_text_in_both_languages() {
        for t in templates() {
            for i in &t.items {
                assert!(!i.text.zh.is_empty() && !i.text.en.is_empty(), "{}", i.id);
                assert!(!i.text.zh.is_ascii(), "{} zh is Chinese", i.id);
            }
        }
    }
}
