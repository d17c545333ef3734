//! Rules of the inventory, checked without HTTP.

use super::inventory::{DeviceSpec, InventoryCommand as C, IpRole, IpSpec};
use super::topology::Topology;
use super::*;

const GIB: u64 = 1024 * 1024;

fn model() -> Model {
    Model::new(&Topology::default_embedded(), 7)
}

/// Plans and commits; the effects, for replay.
fn run(model: &mut Model, command: C) -> Result<(Reply, Vec<Effect>), Fault> {
    let plan = model.plan(&Command::Inventory(command), 0)?;
    model.commit(&plan.effects);
    Ok((plan.reply, plan.effects))
}

fn created(reply: Reply) -> Id {
    match reply {
        Reply::Created(id) => id,
        other => panic!("expected an id, got {other:?}"),
    }
}

#[test]
fn every_pool_is_the_sum_of_its_devices_on_three_sdss() {
    let m = model();
    for pool in m.pools() {
        let devices: Vec<_> = m.pool_devices(pool.id).collect();
        assert_eq!(devices.iter().map(|d| d.capacity_kb).sum::<u64>(), pool.max_capacity_kb, "{}", pool.name);
        let sdss: std::collections::BTreeSet<_> = devices.iter().map(|d| d.sds).collect();
        assert_eq!(sdss.len(), 3);
        assert!(sdss.iter().all(|s| m.sds(*s).unwrap().protection_domain == pool.protection_domain));
    }
    assert_eq!(m.mdm_addresses(), ["127.0.0.5", "127.0.0.6"]);
    assert_eq!(m.users().map(|u| u.role.as_str()).collect::<Vec<_>>(), ["SuperUser"]);
}

#[test]
fn replaying_inventory_effects_rebuilds_the_same_model() {
    let mut m = model();
    let pd = m.domain_by_name("pd1").unwrap().id;
    let pool = m.pools().find(|p| p.name == "sp1").unwrap().id;
    let mut journal = Vec::new();
    let (reply, effects) = run(
        &mut m,
        C::CreateSds {
            domain: pd,
            name: Some("n".into()),
            ips: vec![IpSpec { ip: "127.0.0.99".into(), role: IpRole::All }],
            port: None,
            fault_set: None,
            devices: vec![DeviceSpec {
                path: "/dev/sdz".into(),
                pool,
                name: None,
                media_type: None,
                capacity_limit_kb: Some(512 * GIB),
            }],
            rmcache_enabled: None,
            rmcache_size_kb: None,
            drl_mode: None,
        },
    )
    .unwrap();
    journal.extend(effects);
    let sds = created(reply);
    journal.extend(run(&mut m, C::CreateUser { name: "u".into(), role: "monitor".into() }).unwrap().1);
    journal.extend(run(&mut m, C::RenameSds { sds, name: "n2".into() }).unwrap().1);
    let mut replayed = model();
    replayed.commit(&journal);
    assert_eq!(serde_json::to_value(&m).unwrap(), serde_json::to_value(&replayed).unwrap());
    // The next id drawn after a replay is the same as without it.
    let next = |m: &mut Model| created(run(m, C::CreateUser { name: "v".into(), role: "Monitor".into() }).unwrap().0);
    assert_eq!(next(&mut replayed), next(&mut m));
}

#[test]
fn a_failed_sds_create_leaves_nothing_behind() {
    let mut m = model();
    let pd = m.domain_by_name("pd1").unwrap().id;
    let other_pool = m.pools().find(|p| p.name == "sp3").unwrap().id;
    let before = serde_json::to_value(&m).unwrap();
    // The second device names a pool of another domain: the whole create is refused.
    let pool = m.pools().find(|p| p.name == "sp1").unwrap().id;
    let device = |path: &str, pool| DeviceSpec {
        path: path.into(),
        pool,
        name: None,
        media_type: None,
        capacity_limit_kb: None,
    };
    let refused = run(
        &mut m,
        C::CreateSds {
            domain: pd,
            name: None,
            ips: vec![IpSpec { ip: "127.0.0.98".into(), role: IpRole::All }],
            port: None,
            fault_set: None,
            devices: vec![device("/dev/sdy", pool), device("/dev/sdx", other_pool)],
            rmcache_enabled: None,
            rmcache_size_kb: None,
            drl_mode: None,
        },
    );
    assert_eq!(refused.unwrap_err().rc, 197);
    assert_eq!(serde_json::to_value(&m).unwrap(), before);
}
