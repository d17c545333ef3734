//! QoS rules on volume sets (reference §1.11).

use super::commands::{Plan, QosSettings};
use super::effects::Effect;
use super::fault::Fault;
use super::objects::{QosPriority, QosRule, SetKind};
use super::Model;

/// Applies `settings` over `rule`, refusing a goal above its limit.
fn apply(rule: &QosRule, s: &QosSettings) -> Result<QosRule, Fault> {
    let pick = |new: Option<Option<u64>>, old: Option<u64>| new.unwrap_or(old);
    let next = QosRule {
        enabled: s.enabled.unwrap_or(rule.enabled),
        priority: s.priority.unwrap_or(rule.priority),
        bw_min_goal_kb: pick(s.bw_min_goal_kb, rule.bw_min_goal_kb),
        bw_max_limit_kb: pick(s.bw_max_limit_kb, rule.bw_max_limit_kb),
        io_min_goal: pick(s.io_min_goal, rule.io_min_goal),
        io_max_limit: pick(s.io_max_limit, rule.io_max_limit),
        latency_goal_usecs: pick(s.latency_goal_usecs, rule.latency_goal_usecs),
        ..rule.clone()
    };
    let above = |goal: Option<u64>, limit: Option<u64>| matches!((goal, limit), (Some(g), Some(l)) if g > l);
    if above(next.bw_min_goal_kb, next.bw_max_limit_kb) {
        return Err(Fault::exceeds_range().with_ref("bwMinGoalKB"));
    }
    if above(next.io_min_goal, next.io_max_limit) {
        return Err(Fault::exceeds_range().with_ref("ioMinGoal"));
    }
    Ok(next)
}

pub(super) fn create(model: &Model, set: &str, settings: &QosSettings) -> Result<Plan, Fault> {
    let set = model.set_by_name(SetKind::Volume, set).ok_or_else(Fault::qos_target_object)?;
    if model.qos_of_set(set.id).is_some() {
        return Err(Fault::existent_qos_rule());
    }
    let blank = QosRule {
        id: model.seq.qos.max(1),
        set: set.id,
        enabled: true,
        priority: QosPriority::Normal,
        bw_min_goal_kb: None,
        bw_max_limit_kb: None,
        io_min_goal: None,
        io_max_limit: None,
        latency_goal_usecs: None,
    };
    Ok(Plan::done(vec![Effect::QosPut(Box::new(apply(&blank, settings)?))]))
}

fn existing<'m>(model: &'m Model, set: &str) -> Result<&'m QosRule, Fault> {
    let set = model.set_by_name(SetKind::Volume, set).ok_or_else(Fault::non_existent_qos_rule)?;
    model.qos_of_set(set.id).ok_or_else(Fault::non_existent_qos_rule)
}

pub(super) fn modify(model: &Model, set: &str, settings: &QosSettings) -> Result<Plan, Fault> {
    let rule = existing(model, set)?;
    Ok(Plan::done(vec![Effect::QosPut(Box::new(apply(rule, settings)?))]))
}

pub(super) fn delete(model: &Model, set: &str) -> Result<Plan, Fault> {
    let rule = existing(model, set)?;
    Ok(Plan::done(vec![Effect::QosDeleted { set: rule.set }]))
}
