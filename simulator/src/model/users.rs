//! Planning of user commands: `POST /api/types/User/instances`, `setUserRole`, `removeUser`.
//!
//! The user the gateway's credentials log in as is the admin (`SuperUser`); the MDM refuses to
//! let it change or remove itself. Passwords are checked for presence by the gateway and not
//! kept: only the admin user logs in (FIDELITY.md).

use super::commands::{Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Id, IdKind};
use super::inventory::{InventoryEffect, User};
use super::volumes::check_name_syntax;
use super::Model;

/// The MDM's user roles (`scli --add_user --user_role`).
const ROLES: &[&str] =
    &["Monitor", "Configure", "Administrator", "Security", "FrontendConfig", "BackendConfig", "SuperUser"];
/// Users per system (reference §2.11 `users`).
const USERS: usize = 256;

fn plan(effect: InventoryEffect, reply: Reply) -> Plan {
    Plan::new(vec![Effect::Inventory(effect)], reply)
}

fn role(name: &str) -> Result<String, Fault> {
    ROLES
        .iter()
        .find(|r| r.eq_ignore_ascii_case(name))
        .map(|r| r.to_string())
        .ok_or_else(|| Fault::invalid(format!("userRole {name:?}: one of {}", ROLES.join(", "))))
}

/// A user other than the logged-in admin.
fn other_user(model: &Model, id: Id) -> Result<&User, Fault> {
    let user = model.user(id).ok_or_else(Fault::user_not_found)?;
    if user.is_self {
        return Err(Fault::user_cannot_modify_himself());
    }
    Ok(user)
}

pub(super) fn create(model: &Model, name: &str, user_role: &str) -> Result<Plan, Fault> {
    check_name_syntax(name)?;
    let role = role(user_role)?;
    if model.users().any(|u| u.name == name) {
        return Err(Fault::user_already_exists());
    }
    if model.users().count() >= USERS {
        return Err(Fault::too_many_users());
    }
    let id = ids::derive(model.seed, IdKind::User, model.inventory.seq.user);
    let user = User { id, name: name.to_string(), role, password_change_required: true, is_self: false };
    Ok(plan(InventoryEffect::UserCreated(user), Reply::Created(id)))
}

pub(super) fn set_role(model: &Model, id: Id, user_role: &str) -> Result<Plan, Fault> {
    other_user(model, id)?;
    Ok(plan(InventoryEffect::UserRoleSet { user: id, role: role(user_role)? }, Reply::Empty))
}

pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    other_user(model, id)?;
    Ok(plan(InventoryEffect::UserRemoved { user: id }, Reply::Empty))
}
