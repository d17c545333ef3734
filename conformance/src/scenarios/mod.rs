//! Fixed scenarios beside the property: the flows real clients run.
//!
//! * LXD: pool discovery by ID and by name, a virtual machine's two volumes,
//!   an instance from an image (copying forced).
//! * CloudStack: QoS limits with `setMappedSdcLimits`, consistency-group
//!   snapshots and their removal, `migrateVTree` between pools, capacity
//!   statistics.
//! * Token expiry and re-login.
//! * Error shapes ([`errors`]), also pinned with insta snapshots in
//!   `tests/error_shapes.rs`.
//! * Basics: rounding, removal, mapping, shrink and restore, each checked
//!   once deterministically.
//!
//! Each scenario names its volumes with the run tag and a fresh instance, and
//! whatever it leaves is removed afterwards, pass or fail.

pub mod errors;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::powerflex::client::types::CreateVolume;
use powerflex_driver::powerflex::discovery;
use powerflex_driver::powerflex::PowerFlexName;
use powerflex_driver::{CopyMethod, CopyRequest, CreateOptions, Error as DriverError};
use serde_json::Value;

use crate::report::ScenarioResult;
use crate::sut::Harness;

/// A scenario's body.
pub type Body = for<'a> fn(&'a Harness, u32) -> Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// All scenarios, by name.
pub fn all() -> Vec<(&'static str, Body)> {
    vec![
        ("lxd_pool_discovery", |h, i| Box::pin(lxd_pool_discovery(h, i))),
        ("lxd_vm_two_volumes", |h, i| Box::pin(lxd_vm_two_volumes(h, i))),
        ("lxd_instance_from_image", |h, i| Box::pin(lxd_instance_from_image(h, i))),
        ("cloudstack_qos_limits", |h, i| Box::pin(cloudstack_qos_limits(h, i))),
        ("cloudstack_group_snapshots", |h, i| Box::pin(cloudstack_group_snapshots(h, i))),
        ("cloudstack_migrate_vtree", |h, i| Box::pin(cloudstack_migrate_vtree(h, i))),
        ("cloudstack_capacity", |h, i| Box::pin(cloudstack_capacity(h, i))),
        ("token_expiry_relogin", |h, i| Box::pin(token_expiry(h, i))),
        ("error_shapes", |h, i| Box::pin(errors::error_shapes(h, i))),
        ("basics", |h, i| Box::pin(basics(h, i))),
    ]
}

/// Runs the scenarios whose names contain one of `only` (all when empty),
/// adding each result to `out` as it comes (an interrupted run reports those).
pub async fn run(hx: &Harness, only: &[String], out: &std::sync::Mutex<Vec<ScenarioResult>>) {
    for (name, body) in all() {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        if hx.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        hx.proxy.recorder.clear();
        hx.progress.begin(format!("scenario {name}"), 0);
        let inst = hx.next_instance();
        let started = Instant::now();
        let r = body(hx, inst).await;
        let transcript = if r.is_err() { hx.proxy.recorder.snapshot() } else { Vec::new() };
        let leftovers = cleanup_instance(hx, inst).await;
        let r = match (r, leftovers.is_empty()) {
            (Err(e), _) => Err(e),
            (Ok(()), true) => Ok(()),
            (Ok(()), false) => Err(format!("cleanup: {}", leftovers.join("; "))),
        };
        out.lock().expect("results lock").push(ScenarioResult {
            name: name.to_string(),
            passed: r.is_ok(),
            message: r.err(),
            millis: started.elapsed().as_millis() as u64,
            transcript,
        });
    }
}

/// Removes an instance's volumes in every pool of the domain; returns problems.
pub async fn cleanup_instance(hx: &Harness, inst: u32) -> Vec<String> {
    let mut errors = Vec::new();
    let pools: Vec<String> = match hx.client().domain_pools(&hx.drv.discovery().domain.id).await {
        Ok(p) => p.into_iter().map(|p| p.id).collect(),
        Err(_) => vec![hx.pool_id().to_string()],
    };
    for pool in pools {
        if let Ok(vols) = hx.own_volumes(&pool, Some(inst)).await {
            errors.extend(hx.remove_all(&vols).await);
            if let Ok(left) = hx.own_volumes(&pool, Some(inst)).await {
                if !left.is_empty() {
                    errors.push(format!(
                        "still present after removal: {:?}",
                        left.iter().map(|v| v.name().to_string()).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    errors
}

/// `Err(msg)` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}

/// Creates a raw volume named `name` of `gib` GiB; returns its id.
pub async fn raw_volume(hx: &Harness, name: &str, gib: u64, thick: bool) -> Result<String, String> {
    hx.client()
        .create_volume(&CreateVolume {
            name: name.into(),
            volume_size_in_gb: gib.to_string(),
            volume_type: if thick { "ThickProvisioned" } else { "ThinProvisioned" }.into(),
            storage_pool_id: hx.pool_id().into(),
        })
        .await
        .map_err(|err| format!("create {name}: {err}"))
}

async fn lxd_pool_discovery(hx: &Harness, _inst: u32) -> Result<(), String> {
    let d = hx.drv.discovery();
    let mut by_id = hx.drv.config().clone();
    by_id.pool = powerflex_driver::powerflex::config::PoolRef::Id(d.pool.id.clone());
    let pool_name = d.pool.name.clone().ok_or("the pool has no name")?;
    let domain_name = d.domain.name.clone().ok_or("the protection domain has no name")?;
    let mut by_name = by_id.clone();
    by_name.pool =
        powerflex_driver::powerflex::config::PoolRef::InDomain { pool: pool_name.clone(), domain: domain_name.clone() };
    let a = discovery::resolve_pool(hx.client(), &by_id).await.map_err(e("pool by ID"))?;
    let b = discovery::resolve_pool(hx.client(), &by_name).await.map_err(e("pool by name"))?;
    ensure(a.id == b.id && a.id == d.pool.id, || format!("by ID {} but by name {}", a.id, b.id))?;
    ensure(a.protection_domain_id.as_deref() == Some(d.domain.id.as_str()), || {
        format!("pool's protectionDomainId {:?}", a.protection_domain_id)
    })?;
    let mut bad_domain = by_name.clone();
    bad_domain.pool = powerflex_driver::powerflex::config::PoolRef::InDomain {
        pool: pool_name,
        domain: format!("{}-no-such-domain", hx.tag),
    };
    match discovery::resolve_pool(hx.client(), &bad_domain).await {
        Err(DriverError::DomainNotFound { .. }) => {}
        other => return Err(format!("unknown domain: expected DomainNotFound (142), got {other:?}")),
    }
    let mut bad_pool = by_name;
    bad_pool.pool = powerflex_driver::powerflex::config::PoolRef::InDomain {
        pool: format!("{}-no-such-pool", hx.tag),
        domain: domain_name,
    };
    match discovery::resolve_pool(hx.client(), &bad_pool).await {
        Err(DriverError::PoolNotFound { .. }) => Ok(()),
        other => Err(format!("unknown pool: expected PoolNotFound, got {other:?}")),
    }
}

async fn lxd_vm_two_volumes(hx: &Harness, inst: u32) -> Result<(), String> {
    let vm = hx.descriptor(inst, 1, false, VolumeType::VirtualMachine, ContentType::Block);
    let info = hx
        .drv
        .create_volume(&vm, &CreateOptions { size: 10 << 30, thick: false })
        .await
        .map_err(e("create the VM volumes"))?;
    ensure(info.size == 16 << 30, || format!("block volume size {} (want 16 GiB)", info.size))?;
    let fs = vm.companion().ok_or("no companion")?;
    let fsinfo = hx.drv.volume_info(&fs).await.map_err(e("filesystem volume"))?.ok_or("no filesystem volume")?;
    ensure(fsinfo.size == 8 << 30, || format!("filesystem volume size {}", fsinfo.size))?;
    ensure(fsinfo.vtree_id != info.vtree_id, || "the two volumes share a VTree".into())?;
    let snap =
        hx.drv.create_snapshot(&vm, crate::sut::harness_uuid(hx.tag_bytes, inst, 2, 0)).await.map_err(e("snapshot"))?;
    for part in snap.parts() {
        let s = hx.drv.volume_info(&part).await.map_err(e("snapshot info"))?.ok_or("a snapshot is missing")?;
        ensure(s.provisioning == "Snapshot", || format!("{} is {}", s.name, s.provisioning))?;
    }
    let listed = hx.drv.volume_snapshots(&vm).await.map_err(e("list snapshots"))?;
    ensure(listed.len() == 1, || format!("{} snapshots of the block volume listed", listed.len()))?;
    hx.drv.delete_volume(&snap).await.map_err(e("delete the snapshots"))?;
    hx.drv.delete_volume(&vm).await.map_err(e("delete the VM"))?;
    for part in vm.parts().into_iter().chain(snap.parts()) {
        ensure(hx.drv.volume_info(&part).await.map_err(e("lookup"))?.is_none(), || {
            format!("{} still exists", part.name())
        })?;
    }
    Ok(())
}

async fn lxd_instance_from_image(hx: &Harness, inst: u32) -> Result<(), String> {
    let image = hx.descriptor(inst, 1, false, VolumeType::Image, ContentType::Filesystem);
    let ct = hx.descriptor(inst, 2, false, VolumeType::Container, ContentType::Filesystem);
    let src = hx
        .drv
        .create_volume(&image, &CreateOptions { size: 8 << 30, thick: false })
        .await
        .map_err(e("create the image volume"))?;
    let req = CopyRequest {
        source: image,
        source_snapshots: vec![],
        target: ct,
        target_snapshots: vec![],
        size: Some(16 << 30),
        thick: false,
    };
    let report = hx.drv.copy_volume(&req, None).await.map_err(e("copy image → instance"))?;
    ensure(report.method == CopyMethod::HostCopy, || {
        format!("an instance from an image must be a full copy even with clone_copy=false, got {:?}", report.method)
    })?;
    let dst = hx.drv.volume_info(&ct).await.map_err(e("instance"))?.ok_or("no instance volume")?;
    ensure(dst.vtree_id != src.vtree_id, || "the instance shares the image's VTree".into())?;
    ensure(dst.ancestor_id.is_none(), || format!("instance ancestor {:?}", dst.ancestor_id))?;
    ensure(dst.size == 16 << 30, || format!("instance size {}", dst.size))?;
    ensure(dst.mapped_hosts.is_empty(), || format!("left mapped to {:?}", dst.mapped_hosts))?;
    Ok(())
}

fn mapping<'a>(vol: &'a Value, host: &str) -> Option<&'a Value> {
    vol["mappedSdcInfo"].as_array()?.iter().find(|m| m["sdcId"] == host)
}

async fn cloudstack_qos_limits(hx: &Harness, inst: u32) -> Result<(), String> {
    let id = raw_volume(hx, &hx.raw_name(inst, "qos"), 8, false).await?;
    let host = &hx.hosts[0];
    hx.client().add_mapped_host(&id, host).await.map_err(e("map"))?;
    hx.gw.set_mapped_sdc_limits(&id, host, 10240, 11).await.map_err(e("setMappedSdcLimits"))?;
    let v = hx.gw.volume(&id).await.map_err(e("get volume"))?;
    let m = mapping(&v, host).ok_or_else(|| format!("no mapping to {host} in {}", v["mappedSdcInfo"]))?;
    ensure(m["limitBwInMbps"] == 10 && m["limitIops"] == 11, || {
        format!("limits shown as limitBwInMbps={} limitIops={} (want 10 and 11)", m["limitBwInMbps"], m["limitIops"])
    })?;
    hx.gw.set_mapped_sdc_limits(&id, host, 0, 0).await.map_err(e("clear limits"))?;
    let v = hx.gw.volume(&id).await.map_err(e("get volume"))?;
    let m = mapping(&v, host).ok_or("mapping gone")?;
    ensure(m["limitBwInMbps"] == 0 && m["limitIops"] == 0, || format!("limits not cleared: {m}"))?;
    hx.client().remove_mapped_host(&id, host).await.map_err(e("unmap"))?;
    Ok(())
}

async fn cloudstack_group_snapshots(hx: &Harness, inst: u32) -> Result<(), String> {
    let a = raw_volume(hx, &hx.raw_name(inst, "cgA"), 8, false).await?;
    let b = raw_volume(hx, &hx.raw_name(inst, "cgB"), 16, false).await?;
    let defs = vec![(a.clone(), hx.raw_name(inst, "cgA-s")), (b.clone(), hx.raw_name(inst, "cgB-s"))];
    let (ids, group) = hx.gw.snapshot_volumes(hx.system_id(), &defs).await.map_err(e("snapshotVolumes"))?;
    ensure(ids.len() == 2 && !group.is_empty(), || format!("volumeIdList {ids:?}, group {group:?}"))?;
    for (snap, src) in ids.iter().zip([&a, &b]) {
        let v = hx.gw.volume(snap).await.map_err(e("get snapshot"))?;
        ensure(v["consistencyGroupId"] == group.as_str(), || {
            format!("snapshot {snap}: consistencyGroupId {} (want {group})", v["consistencyGroupId"])
        })?;
        ensure(v["ancestorVolumeId"] == src.as_str() && v["volumeType"] == "Snapshot", || {
            format!("snapshot {snap}: ancestor {} type {}", v["ancestorVolumeId"], v["volumeType"])
        })?;
    }
    let n = hx.gw.remove_cg_snapshots(hx.system_id(), &group).await.map_err(e("removeConsistencyGroupSnapshots"))?;
    ensure(n == 2, || format!("numberOfVolumes {n} (want 2)"))?;
    for snap in &ids {
        match hx.client().volume(snap).await {
            Err(err) if err.code().map(|c| c.code()) == Some(79) => {}
            other => return Err(format!("snapshot {snap} after group removal: {other:?}")),
        }
    }
    for src in [&a, &b] {
        hx.client().volume(src).await.map_err(e("a group source went too"))?;
    }
    Ok(())
}

async fn cloudstack_migrate_vtree(hx: &Harness, inst: u32) -> Result<(), String> {
    let pools = hx.client().domain_pools(&hx.drv.discovery().domain.id).await.map_err(e("pools"))?;
    let Some(dest) = pools.iter().find(|p| p.id != hx.pool_id()) else {
        return Err("the protection domain has a single pool; migrateVTree needs two".into());
    };
    let id = raw_volume(hx, &hx.raw_name(inst, "mig"), 8, false).await?;
    let snap =
        hx.client().snapshot_volume(hx.system_id(), &id, &hx.raw_name(inst, "mig-s")).await.map_err(e("snapshot"))?;
    hx.gw.migrate_vtree(&id, &dest.id).await.map_err(e("migrateVTree"))?;
    let vtree = hx.client().volume(&id).await.map_err(e("volume"))?.vtree_id.ok_or("no vtreeId")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let vt = hx.gw.vtree(&vtree).await.map_err(e("VTree"))?;
        let status = vt["vtreeMigrationInfo"]["migrationStatus"].as_str().unwrap_or("").to_string();
        if status == "NotInMigration" {
            ensure(vt["vtreeMigrationInfo"]["migrationPauseReason"].is_null(), || {
                format!("migration paused: {}", vt["vtreeMigrationInfo"])
            })?;
            ensure(vt["storagePoolId"] == dest.id.as_str(), || {
                format!("VTree storagePoolId {} after migration (want {})", vt["storagePoolId"], dest.id)
            })?;
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("migration still {status:?} after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for v in [&id, &snap] {
        let w = hx.client().volume(v).await.map_err(e("volume after migration"))?;
        ensure(w.storage_pool_id.as_deref() == Some(dest.id.as_str()), || {
            format!("volume {v} is in pool {:?} (want {})", w.storage_pool_id, dest.id)
        })?;
    }
    match hx.gw.migrate_vtree(&id, &dest.id).await {
        Err(err) if err.code() == Some(718) => Ok(()),
        other => Err(format!("migrating to the pool it is in: expected 718, got {other:?}")),
    }
}

fn num(v: &Value, field: &str) -> Result<i64, String> {
    v[field].as_i64().ok_or_else(|| format!("statistics field {field} missing or not an integer: {}", v[field]))
}

async fn cloudstack_capacity(hx: &Harness, inst: u32) -> Result<(), String> {
    let pool = hx.pool_id().to_string();
    let before = hx.gw.statistics("StoragePool", &pool).await.map_err(e("pool statistics"))?;
    let avail = num(&before, "capacityAvailableForVolumeAllocationInKb")?;
    ensure(avail % (8 << 20) == 0, || format!("capacityAvailableForVolumeAllocationInKb {avail} is not whole 8 GiB"))?;
    for f in ["maxCapacityInKb", "capacityInUseInKb", "thickCapacityInUseInKb", "thinCapacityAllocatedInKb"] {
        num(&before, f)?;
    }
    let id = raw_volume(hx, &hx.raw_name(inst, "cap"), 16, true).await?;
    let after = hx.gw.statistics("StoragePool", &pool).await.map_err(e("pool statistics"))?;
    let delta = num(&after, "thickCapacityInUseInKb")? - num(&before, "thickCapacityInUseInKb")?;
    ensure(delta == 2 * (16 << 20), || {
        format!(
            "a 16 GiB thick volume moved thickCapacityInUseInKb by {delta} KiB (want {}, two copies)",
            2 * (16 << 20)
        )
    })?;
    hx.client().snapshot_volume(hx.system_id(), &id, &hx.raw_name(inst, "cap-s")).await.map_err(e("snapshot"))?;
    let vtree = hx.client().volume(&id).await.map_err(e("volume"))?.vtree_id.ok_or("no vtreeId")?;
    let vs = hx.gw.statistics("VTree", &vtree).await.map_err(e("VTree statistics"))?;
    ensure(num(&vs, "numOfVolumes")? == 2, || format!("VTree numOfVolumes {} (want 2)", vs["numOfVolumes"]))?;
    let st = hx.gw.statistics("Volume", &id).await.map_err(e("volume statistics"))?;
    ensure(num(&st, "numOfChildVolumes")? == 1 && num(&st, "numOfDescendantVolumes")? == 1, || {
        format!("volume statistics children {} descendants {}", st["numOfChildVolumes"], st["numOfDescendantVolumes"])
    })?;
    Ok(())
}

async fn token_expiry(hx: &Harness, _inst: u32) -> Result<(), String> {
    let t = &hx.target;
    let login = hx.gw.login_raw(&t.user, &t.password).await.map_err(e("login"))?;
    ensure(login.status == 200, || format!("login: HTTP {} {}", login.status, login.body))?;
    let access = login.body["access_token"].as_str().ok_or("no access_token")?.to_string();
    let refresh = login.body["refresh_token"].as_str().unwrap_or_default().to_string();
    let ok = hx.gw.send(reqwest::Method::GET, "/api/version", None, Some(&access)).await.map_err(e("version"))?;
    ensure(ok.status == 200, || format!("a fresh token is refused: HTTP {}", ok.status))?;
    let bad = hx
        .gw
        .send(reqwest::Method::GET, "/api/version", None, Some(crate::transcript::DEAD_TOKEN))
        .await
        .map_err(e("version with a dead token"))?;
    ensure(bad.status == 401, || format!("a dead token gives HTTP {} (want 401)", bad.status))?;
    ensure(bad.content_type.as_deref() != Some("application/json"), || {
        "a dead token's 401 is plain application/json; 4.x clients re-login only on the ingress's HTML 401".into()
    })?;
    let wrong = hx.gw.login_raw(&t.user, "not-the-password").await.map_err(e("bad login"))?;
    ensure(wrong.status == 401, || format!("a wrong password gives HTTP {} (want 401)", wrong.status))?;
    // The driver's client meets an expired token and logs in once more.
    let before = hx.client().login_count().await;
    hx.proxy.recorder.expire_next_token();
    hx.client().version().await.map_err(e("the call after token expiry"))?;
    let after = hx.client().login_count().await;
    ensure(after == before + 1, || format!("logins {before} → {after}: expected exactly one re-login"))?;
    if !refresh.is_empty() {
        let out = hx.gw.logout_raw(&refresh, &access).await.map_err(e("logout"))?;
        ensure(out.status == 204, || format!("logout: HTTP {} (want 204)", out.status))?;
    }
    Ok(())
}

/// One deterministic check per breakable behaviour.
async fn basics(hx: &Harness, inst: u32) -> Result<(), String> {
    let id = raw_volume(hx, &hx.raw_name(inst, "b1"), 9, false).await?;
    let v = hx.client().volume(&id).await.map_err(e("get"))?;
    ensure(v.size_in_kb == 16 << 20, || format!("9 GiB requested: sizeInKb {} (want 16 GiB)", v.size_in_kb))?;
    match hx.client().set_volume_size(&id, 8).await {
        Err(err) if err.code().map(|c| c.code()) == Some(133) => {}
        other => return Err(format!("shrink 16 → 8 GiB: expected 133, got {other:?}")),
    }
    hx.client().set_volume_size(&id, 17).await.map_err(e("grow"))?;
    let v = hx.client().volume(&id).await.map_err(e("get"))?;
    ensure(v.size_in_kb == 24 << 20, || format!("grow to 17 GiB: sizeInKb {} (want 24 GiB)", v.size_in_kb))?;
    hx.client().add_mapped_host(&id, &hx.hosts[1]).await.map_err(e("map"))?;
    let v = hx.client().volume(&id).await.map_err(e("get"))?;
    let ids: Vec<&str> = v.mappings().iter().map(|m| m.sdc_id.as_str()).collect();
    ensure(ids == [hx.hosts[1].as_str()], || format!("mapped to {ids:?}, want [{}]", hx.hosts[1]))?;
    match hx.gw.remove_volume(&id, "ONLY_ME").await {
        Err(err) if err.code() == Some(104) => {}
        other => return Err(format!("removing a mapped volume: expected 104, got {other:?}")),
    }
    hx.client().remove_mapped_host(&id, &hx.hosts[1]).await.map_err(e("unmap"))?;
    hx.gw.remove_volume(&id, "ONLY_ME").await.map_err(e("remove"))?;
    match hx.client().volume(&id).await {
        Err(err) if err.code().map(|c| c.code()) == Some(79) => {}
        other => return Err(format!("GET after removal: expected 79, got {other:?}")),
    }
    if hx.target.data.checks_content() {
        restore_brings_back(hx, inst).await?;
    }
    Ok(())
}

async fn restore_brings_back(hx: &Harness, inst: u32) -> Result<(), String> {
    let vol = hx.descriptor(inst, 10, false, VolumeType::Custom, ContentType::Block);
    hx.drv.create_volume(&vol, &CreateOptions { size: 8 << 30, thick: false }).await.map_err(e("create"))?;
    let write = |tag: u32| async move {
        let att = hx.drv.attach_volume(&vol).await.map_err(e("attach"))?;
        att.device.write_at(&crate::data::pattern(tag, 0), 0).map_err(e("write"))?;
        att.device.flush().map_err(e("flush"))?;
        drop(att);
        hx.drv.detach_volume(&vol).await.map_err(e("detach"))
    };
    write(1).await?;
    let snap = hx
        .drv
        .create_snapshot(&vol, crate::sut::harness_uuid(hx.tag_bytes, inst, 11, 0))
        .await
        .map_err(e("snapshot"))?;
    write(2).await?;
    hx.drv.restore_volume(&vol, &snap).await.map_err(e("restore"))?;
    let att = hx.drv.attach_volume(&vol).await.map_err(e("attach"))?;
    let mut buf = vec![0u8; crate::data::SLOT_LEN];
    att.device.read_at(&mut buf, 0).map_err(e("read"))?;
    drop(att);
    hx.drv.detach_volume(&vol).await.map_err(e("detach"))?;
    ensure(buf == crate::data::pattern(1, 0), || {
        format!("after restore the volume holds {} (want pattern 1)", crate::data::describe(&buf))
    })
}
