//! LXD's PowerFlex driver, replayed call for call against the simulator.
//!
//! `Lxd` copies LXD's `powerFlexClient` (`lxd/storage/drivers/driver_powerflex_utils.go`): every
//! request sends `Accept: application/json`, bodies come from Go's `json.Encoder` (so they end
//! in a newline) with `Content-Type: application/json` only when there is a body, a 401 that is
//! not `application/json` drops the token and retries once, any other non-200 is decoded as a
//! `powerFlexError` map, and 200 bodies decode into LXD's own Go structs. Those structs are
//! mirrored below with decoders that accept exactly what Go's `encoding/json` accepts for the
//! Go field types (a string or null for `string`, a non-negative integer for `uint64`, ...).
//!
//! The numbers in comments (#12, #23, ...) are the calls of `lxd-drivers.md` §1.2; the
//! sequences are those of §1.4, §3.2-§3.4 and §5.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{options, TestGateway, GIB_KB};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Decoders with the semantics of Go's `encoding/json` for one Go type each: JSON `null` leaves
/// the zero value, any JSON type other than the Go type's is an error.
mod go {
    use serde::{Deserialize, Deserializer};

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }

    pub fn uint64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.unwrap_or_default())
    }

    pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.unwrap_or_default())
    }

    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(Option::<bool>::deserialize(d)?.unwrap_or_default())
    }

    /// A Go slice: `null` is a nil slice.
    pub fn slice<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

/// The JSON type a Go type decodes from (besides `null`).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Object,
    Array,
    String,
}

/// A Go response type: what LXD passes as `response`.
trait GoType: DeserializeOwned {
    const KIND: Kind;
}

impl GoType for String {
    const KIND: Kind = Kind::String;
}

impl<T: DeserializeOwned> GoType for Vec<T> {
    const KIND: Kind = Kind::Array;
}

macro_rules! go_structs {
    ($($t:ty),* $(,)?) => {
        $(impl GoType for $t {
            const KIND: Kind = Kind::Object;
        })*
    };
}

go_structs!(
    LoginResponse,
    IdResponse,
    PowerFlexStoragePool,
    PowerFlexStoragePoolStatistics,
    PowerFlexProtectionDomain,
    PowerFlexProtectionDomainStoragePool,
    PowerFlexProtectionDomainSdtRelation,
    PowerFlexSdc,
    PowerFlexVolume,
    SnapshotResponse,
);

// LXD's response types (utils L113-194), field for field.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginResponse {
    #[serde(deserialize_with = "go::string")]
    access_token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IdResponse {
    #[serde(deserialize_with = "go::string")]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexStoragePool {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
    #[serde(deserialize_with = "go::string")]
    protection_domain_id: String,
    #[serde(deserialize_with = "go::boolean")]
    zero_padding_enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexStoragePoolStatistics {
    #[serde(deserialize_with = "go::uint64")]
    net_unused_capacity_in_kb: u64,
    #[serde(deserialize_with = "go::uint64")]
    net_capacity_in_use_in_kb: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexProtectionDomain {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
    #[serde(deserialize_with = "go::string")]
    system_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PowerFlexProtectionDomainStoragePool {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SdtIp {
    #[serde(deserialize_with = "go::string")]
    ip: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexProtectionDomainSdtRelation {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
    #[serde(deserialize_with = "go::slice")]
    ip_list: Vec<SdtIp>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexSdc {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
    #[serde(deserialize_with = "go::string")]
    host_type: String,
    #[serde(deserialize_with = "go::string")]
    nqn: String,
    #[serde(deserialize_with = "go::string")]
    sdc_guid: String,
    #[serde(deserialize_with = "go::string")]
    system_id: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct MappedSdcInfo {
    #[serde(deserialize_with = "go::string")]
    sdc_id: String,
    #[serde(deserialize_with = "go::string")]
    sdc_name: String,
    #[serde(deserialize_with = "go::string")]
    nqn: String,
    #[serde(deserialize_with = "go::string")]
    host_type: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PowerFlexVolume {
    #[serde(deserialize_with = "go::string")]
    id: String,
    #[serde(deserialize_with = "go::string")]
    name: String,
    #[serde(deserialize_with = "go::string")]
    volume_type: String,
    #[serde(rename = "vtreeId", deserialize_with = "go::string")]
    vtree_id: String,
    #[serde(deserialize_with = "go::string")]
    ancestor_volume_id: String,
    /// KiB, though the field says KB.
    #[serde(deserialize_with = "go::int64")]
    size_in_kb: i64,
    #[serde(deserialize_with = "go::slice")]
    mapped_sdc_info: Vec<MappedSdcInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SnapshotResponse {
    #[serde(rename = "volumeIdList", deserialize_with = "go::slice")]
    volume_ids: Vec<String>,
}

/// How a call fails, as LXD sees it.
#[derive(Debug)]
enum LxdError {
    /// `api.NewStatusError(401)`: a 401 whose Content-Type is not exactly `application/json`.
    Unauthorized,
    /// Any other non-200: the body decoded into `powerFlexError` (`map[string]any`).
    PowerFlex(Map<String, Value>),
    /// "Failed to read response body". (The text shows in assertion messages.)
    #[allow(dead_code)]
    Decode(String),
    /// LXD's own `api.StatusErrorf(http.StatusNotFound, ...)` translations.
    NotFound(String),
}

impl LxdError {
    /// `(*p)["httpStatusCode"].(float64)`, 0 when absent or not a number.
    fn http_status_code(&self) -> f64 {
        match self {
            LxdError::PowerFlex(m) => m.get("httpStatusCode").and_then(Value::as_f64).unwrap_or(0.0),
            _ => 0.0,
        }
    }

    fn error_code(&self) -> f64 {
        match self {
            LxdError::PowerFlex(m) => m.get("errorCode").and_then(Value::as_f64).unwrap_or(0.0),
            _ => 0.0,
        }
    }

    /// `HTTPStatusCode() == 500 && ErrorCode() == code`, as LXD tests every code it matches.
    fn is(&self, code: f64) -> bool {
        self.http_status_code() == 500.0 && self.error_code() == code
    }
}

type LxdResult<T> = Result<T, LxdError>;

/// LXD's `powerFlexClient` plus the driver logic around it (one `powerflex` pool).
struct Lxd {
    http: reqwest::Client,
    gateway: String,
    user: String,
    password: String,
    token: String,
    /// `powerflex.domain` and `powerflex.pool` (by name, as lxd-ci configures them).
    domain: String,
    pool: String,
    /// `nqn.2014-08.org.nvmexpress:uuid:<server UUID>` and the server name.
    host_nqn: String,
    host_name: String,
    /// Every request sent, as `METHOD path`, for the order checks.
    calls: Vec<String>,
    logins: usize,
}

impl Lxd {
    fn new(gw: &TestGateway) -> Lxd {
        Lxd {
            http: common::http_client(&gw.ca_cert_pem),
            gateway: gw.url.clone(),
            user: gw.user.clone(),
            password: gw.password.clone(),
            token: String::new(),
            domain: "pd1".into(),
            pool: "sp1".into(),
            host_nqn: "nqn.2014-08.org.nvmexpress:uuid:3f4b2a51-6a1e-4d0c-9a37-5c1f0e2d8b44".into(),
            host_name: "lxd-member-1".into(),
            calls: Vec::new(),
            logins: 0,
        }
    }

    /// `request()`: one HTTP exchange. `Ok(Some(body))` for a 200 when a response is wanted.
    async fn request(&mut self, method: Method, path: &str, body: Option<&Value>) -> LxdResult<Vec<u8>> {
        self.calls.push(format!("{method} {path}"));
        let mut request =
            self.http.request(method, format!("{}{path}", self.gateway)).header(ACCEPT, "application/json");
        if let Some(body) = body {
            // json.NewEncoder(body).Encode(contents): compact JSON and a newline.
            let mut bytes = serde_json::to_vec(body).unwrap();
            bytes.push(b'\n');
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        if !self.token.is_empty() {
            request = request.header(AUTHORIZATION, format!("Bearer {}", self.token));
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string());
        let bytes = response.bytes().await.expect("body").to_vec();
        if status == 401 && content_type.as_deref() != Some("application/json") {
            return Err(LxdError::Unauthorized);
        }
        if status != 200 {
            return match serde_json::from_slice::<Map<String, Value>>(&bytes) {
                Ok(map) => Err(LxdError::PowerFlex(map)),
                Err(e) => Err(LxdError::Decode(format!("{path}: {e}"))),
            };
        }
        Ok(bytes)
    }

    fn decode<T: GoType>(path: &str, bytes: &[u8]) -> LxdResult<T> {
        // json.NewDecoder(resp.Body).Decode(response): the first JSON value.
        let value = match serde_json::Deserializer::from_slice(bytes).into_iter::<Value>().next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(LxdError::Decode(format!("{path}: {e}"))),
            None => return Err(LxdError::Decode(format!("{path}: EOF"))),
        };
        // serde would fill a struct from an array; Go refuses to.
        let shape_fits = matches!(
            (&value, T::KIND),
            (Value::Null, _)
                | (Value::Object(_), Kind::Object)
                | (Value::Array(_), Kind::Array)
                | (Value::String(_), Kind::String)
        );
        if !shape_fits {
            return Err(LxdError::Decode(format!("{path}: cannot unmarshal {value} into a Go {:?}", T::KIND)));
        }
        serde_json::from_value(value).map_err(|e| LxdError::Decode(format!("{path}: {e}")))
    }

    /// `login()`: only when there is no token.
    async fn login(&mut self) -> LxdResult<()> {
        if !self.token.is_empty() {
            return Ok(());
        }
        let body = json!({ "username": self.user, "password": self.password });
        let bytes = self.request(Method::POST, "/rest/auth/login", Some(&body)).await?;
        let response: LoginResponse = Self::decode("/rest/auth/login", &bytes)?;
        self.logins += 1;
        self.token = response.access_token;
        Ok(())
    }

    /// `requestAuthenticated()` with a response to decode.
    async fn call<T: GoType>(&mut self, method: Method, path: &str, body: Option<Value>) -> LxdResult<T> {
        let bytes = self.authenticated(method, path, body).await?;
        Self::decode(path, &bytes)
    }

    /// `requestAuthenticated()` with `response == nil`: the 200 body is not read.
    async fn call_nil(&mut self, method: Method, path: &str, body: Option<Value>) -> LxdResult<()> {
        self.authenticated(method, path, body).await.map(|_| ())
    }

    async fn authenticated(&mut self, method: Method, path: &str, body: Option<Value>) -> LxdResult<Vec<u8>> {
        let mut retries = 0;
        loop {
            self.login().await?;
            match self.request(method.clone(), path, body.as_ref()).await {
                Err(LxdError::Unauthorized) if retries == 0 => {
                    self.token.clear();
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    fn take_calls(&mut self) -> Vec<String> {
        std::mem::take(&mut self.calls)
    }

    // The client's methods, one per numbered call.

    /// #2
    async fn get_version(&mut self) -> LxdResult<String> {
        self.call(Method::GET, "/api/version", None).await
    }

    /// #3
    async fn get_storage_pool(&mut self, id: &str) -> LxdResult<PowerFlexStoragePool> {
        self.call(Method::GET, &format!("/api/instances/StoragePool::{id}"), None).await
    }

    /// #4
    async fn get_storage_pool_statistics(&mut self, id: &str) -> LxdResult<PowerFlexStoragePoolStatistics> {
        self.call(Method::GET, &format!("/api/instances/StoragePool::{id}/relationships/Statistics"), None).await
    }

    /// #6
    async fn get_storage_pool_volumes(&mut self, id: &str) -> LxdResult<Vec<PowerFlexVolume>> {
        self.call(Method::GET, &format!("/api/instances/StoragePool::{id}/relationships/Volume"), None).await
    }

    /// #8, with LXD's translation of 500/142.
    async fn get_protection_domain_id(&mut self, name: &str) -> LxdResult<String> {
        let body = json!({ "name": name });
        match self.call(Method::POST, "/api/types/ProtectionDomain/instances/action/queryIdByKey", Some(body)).await {
            Err(e) if e.is(142.0) => {
                Err(LxdError::NotFound(format!("PowerFlex protection domain not found: {name:?}")))
            }
            other => other,
        }
    }

    /// #9
    async fn get_protection_domain(&mut self, id: &str) -> LxdResult<PowerFlexProtectionDomain> {
        self.call(Method::GET, &format!("/api/instances/ProtectionDomain::{id}"), None).await
    }

    /// #10
    async fn get_protection_domain_storage_pools(
        &mut self,
        id: &str,
    ) -> LxdResult<Vec<PowerFlexProtectionDomainStoragePool>> {
        self.call(Method::GET, &format!("/api/instances/ProtectionDomain::{id}/relationships/StoragePool"), None).await
    }

    /// #11
    async fn get_protection_domain_sdt_relations(
        &mut self,
        id: &str,
    ) -> LxdResult<Vec<PowerFlexProtectionDomainSdtRelation>> {
        self.call(Method::GET, &format!("/api/instances/ProtectionDomain::{id}/relationships/Sdt"), None).await
    }

    /// #12, with LXD's translation of 500/79.
    async fn get_volume_id(&mut self, name: &str) -> LxdResult<String> {
        let body = json!({ "name": name });
        match self.call(Method::POST, "/api/types/Volume/instances/action/queryIdByKey", Some(body)).await {
            Err(e) if e.is(79.0) => Err(LxdError::NotFound(format!("PowerFlex volume not found: {name:?}"))),
            other => other,
        }
    }

    /// #13
    async fn get_volume(&mut self, id: &str) -> LxdResult<PowerFlexVolume> {
        self.call(Method::GET, &format!("/api/instances/Volume::{id}"), None).await
    }

    /// #14, with LXD's translation of 500/226.
    async fn create_volume(
        &mut self,
        name: &str,
        size_gib: i64,
        volume_type: &str,
        pool_id: &str,
    ) -> LxdResult<String> {
        let body = json!({
            "name": name, "volumeSizeInGb": size_gib.to_string(), "volumeType": volume_type, "storagePoolId": pool_id,
        });
        match self.call::<IdResponse>(Method::POST, "/api/types/Volume/instances", Some(body)).await {
            Err(e) if e.is(226.0) => {
                Err(LxdError::NotFound(format!("Volume name exceeds the allowed length: {name:?}")))
            }
            other => other.map(|r| r.id),
        }
    }

    /// #15
    async fn set_volume_size(&mut self, id: &str, size_gib: i64) -> LxdResult<()> {
        let body = json!({ "sizeInGB": size_gib.to_string() });
        self.call_nil(Method::POST, &format!("/api/instances/Volume::{id}/action/setVolumeSize"), Some(body)).await
    }

    /// #16
    async fn overwrite_volume(&mut self, id: &str, snapshot_id: &str) -> LxdResult<()> {
        let body = json!({ "srcVolumeId": snapshot_id });
        self.call_nil(Method::POST, &format!("/api/instances/Volume::{id}/action/overwriteVolumeContent"), Some(body))
            .await
    }

    /// #17
    async fn rename_volume(&mut self, id: &str, name: &str) -> LxdResult<()> {
        let body = json!({ "newName": name });
        self.call_nil(Method::POST, &format!("/api/instances/Volume::{id}/action/setVolumeName"), Some(body)).await
    }

    /// #19 (PF4), with LXD's translation of 500/226 and its check of an empty list.
    async fn create_volume_snapshot(&mut self, system_id: &str, volume_id: &str, name: &str) -> LxdResult<String> {
        let body = json!({
            "snapshotDefs": [{ "volumeId": volume_id, "snapshotName": name }],
            "accessModeLimit": "ReadWrite",
        });
        let path = format!("/api/instances/System::{system_id}/action/snapshotVolumes");
        match self.call::<SnapshotResponse>(Method::POST, &path, Some(body)).await {
            Err(e) if e.is(226.0) => {
                Err(LxdError::NotFound(format!("Snapshot name exceeds the allowed length: {name:?}")))
            }
            Err(e) => Err(e),
            Ok(r) if r.volume_ids.is_empty() => {
                Err(LxdError::Decode("Response does not contain a single snapshot ID".into()))
            }
            Ok(r) => Ok(r.volume_ids[0].clone()),
        }
    }

    /// #13 then #21, keeping children of the volume.
    async fn get_volume_snapshots(&mut self, volume_id: &str) -> LxdResult<Vec<PowerFlexVolume>> {
        let volume = self.get_volume(volume_id).await?;
        let all: Vec<PowerFlexVolume> = self
            .call(Method::GET, &format!("/api/instances/VTree::{}/relationships/Volume", volume.vtree_id), None)
            .await?;
        Ok(all.into_iter().filter(|v| v.ancestor_volume_id == volume_id).collect())
    }

    /// #22
    async fn delete_volume(&mut self, id: &str, mode: &str) -> LxdResult<()> {
        let body = json!({ "removeMode": mode });
        self.call_nil(Method::POST, &format!("/api/instances/Volume::{id}/action/removeVolume"), Some(body)).await
    }

    /// #23
    async fn get_hosts(&mut self) -> LxdResult<Vec<PowerFlexSdc>> {
        self.call(Method::GET, "/api/types/Sdc/instances", None).await
    }

    /// #23, filtered on `hostType == "NVMeHost"` and the NQN.
    async fn get_nvme_host_by_nqn(&mut self, nqn: &str) -> LxdResult<PowerFlexSdc> {
        let hosts = self.get_hosts().await?;
        hosts
            .into_iter()
            .filter(|h| h.host_type == "NVMeHost")
            .find(|h| h.nqn == nqn)
            .ok_or_else(|| LxdError::NotFound(format!("Host not found using nqn: {nqn:?}")))
    }

    /// #24
    async fn create_host(&mut self, name: &str, nqn: &str) -> LxdResult<String> {
        let body = json!({ "name": name, "nqn": nqn });
        self.call::<IdResponse>(Method::POST, "/api/types/Host/instances", Some(body)).await.map(|r| r.id)
    }

    /// #25: no body, so no Content-Type.
    async fn delete_host(&mut self, id: &str) -> LxdResult<()> {
        self.call_nil(Method::POST, &format!("/api/instances/Sdc::{id}/action/removeSdc"), None).await
    }

    /// #26
    async fn create_host_volume_mapping(&mut self, host_id: &str, volume_id: &str) -> LxdResult<()> {
        let body = json!({ "hostId": host_id, "allowMultipleMappings": "true" });
        self.call_nil(Method::POST, &format!("/api/instances/Volume::{volume_id}/action/addMappedHost"), Some(body))
            .await
    }

    /// #27, with LXD's translation of 500/4039.
    async fn delete_host_volume_mapping(&mut self, host_id: &str, volume_id: &str) -> LxdResult<()> {
        let body = json!({ "hostId": host_id });
        let path = format!("/api/instances/Volume::{volume_id}/action/removeMappedHost");
        match self.call_nil(Method::POST, &path, Some(body)).await {
            Err(e) if e.is(4039.0) => {
                Err(LxdError::NotFound(format!("The mapping between {host_id:?} and {volume_id:?} does not exist")))
            }
            other => other,
        }
    }

    /// #28
    async fn get_host_volume_mappings(&mut self, host_id: &str) -> LxdResult<Vec<PowerFlexVolume>> {
        self.call(Method::GET, &format!("/api/instances/Sdc::{host_id}/relationships/Volume"), None).await
    }

    // The driver (`driver_powerflex*.go`), PF4 and nvme/tcp.

    /// `resolvePool()` by name: #8, #10, #3.
    async fn resolve_pool(&mut self) -> LxdResult<PowerFlexStoragePool> {
        let domain = self.domain.clone();
        let pd_id = self.get_protection_domain_id(&domain).await?;
        let pools = self.get_protection_domain_storage_pools(&pd_id).await?;
        let wanted = self.pool.clone();
        let found = pools.into_iter().find(|p| p.name == wanted || p.id == wanted).ok_or_else(|| {
            LxdError::NotFound(format!("Cannot find storage pool {wanted:?} in protection domain {domain:?}"))
        })?;
        self.get_storage_pool(&found.id).await
    }

    /// `FillConfig()` then `SourceIdentifier()`: what `lxc storage create` does. The identifier.
    async fn create_pool(&mut self) -> LxdResult<String> {
        let version = self.get_version().await?;
        let version = version.trim_matches('"');
        assert!(version.split('.').all(|p| p.parse::<u32>().is_ok()), "a DottedVersion: {version:?}");
        assert!(version.split('.').next().unwrap().parse::<u32>().unwrap() < 5, "PF4 paths: {version}");
        let pool = self.resolve_pool().await?;
        let domain = self.get_protection_domain(&pool.protection_domain_id).await?;
        Ok(format!("{}-{}-{}", self.gateway, domain.name, pool.name))
    }

    /// `getNVMeTargetAddresses()`: `resolvePool`, then #11.
    async fn target_addresses(&mut self) -> LxdResult<Vec<String>> {
        let pool = self.resolve_pool().await?;
        let relations = self.get_protection_domain_sdt_relations(&pool.protection_domain_id).await?;
        let addresses: Vec<String> = relations.iter().flat_map(|r| r.ip_list.iter().map(|ip| ip.ip.clone())).collect();
        if addresses.is_empty() {
            return Err(LxdError::Decode(format!(
                "Failed to retrieve at least one SDT for the given storage pool: {:?}",
                pool.id
            )));
        }
        Ok(addresses)
    }

    /// `CreateVolume()`: `resolvePool` (zero padding), #14.
    async fn create_lxd_volume(&mut self, name: &str, size_bytes: u64, thick: bool) -> LxdResult<String> {
        let pool = self.resolve_pool().await?;
        assert!(pool.zero_padding_enabled, "The pool does not have zero-padding enabled");
        let size = round_8gib(size_bytes);
        let volume_type = if thick { "ThickProvisioned" } else { "ThinProvisioned" };
        self.create_volume(name, (size >> 30) as i64, volume_type, &pool.id).await
    }

    /// `mapVolume()`: #23 [#24], #12, #13, [#26], then `resolvePool` and #11. Answers the host id
    /// and whether a mapping was made.
    async fn map_volume(&mut self, name: &str) -> LxdResult<(String, bool)> {
        let nqn = self.host_nqn.clone();
        let host_id = match self.get_nvme_host_by_nqn(&nqn).await {
            Ok(host) => host.id,
            Err(LxdError::NotFound(_)) => {
                let host_name = self.host_name.clone();
                self.create_host(&host_name, &nqn).await?
            }
            Err(e) => return Err(e),
        };
        let volume_id = self.get_volume_id(name).await?;
        let volume = self.get_volume(&volume_id).await?;
        let mapped = volume.mapped_sdc_info.iter().any(|m| m.sdc_id == host_id);
        if !mapped {
            self.create_host_volume_mapping(&host_id, &volume_id).await?;
        }
        let addresses = self.target_addresses().await?;
        assert!(!addresses.is_empty());
        Ok((host_id, !mapped))
    }

    /// `unmapVolume()`: #12, #23, #27, #28, and when the host has no mappings left, `resolvePool`,
    /// #11, #23, #25. Answers whether the host was deleted.
    async fn unmap_volume(&mut self, name: &str) -> LxdResult<bool> {
        let volume_id = self.get_volume_id(name).await?;
        let nqn = self.host_nqn.clone();
        let host = self.get_nvme_host_by_nqn(&nqn).await?;
        self.delete_host_volume_mapping(&host.id, &volume_id).await?;
        let mappings = self.get_host_volume_mappings(&host.id).await?;
        if !mappings.is_empty() {
            return Ok(false);
        }
        self.target_addresses().await?;
        // deleteNVMeHost(): skipped if the host is already gone.
        match self.get_nvme_host_by_nqn(&nqn).await {
            Ok(host) => self.delete_host(&host.id).await.map(|_| true),
            Err(LxdError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `CreateVolumeSnapshot()`: `resolvePool`, #9, #12, #19.
    async fn create_snapshot(&mut self, parent: &str, snapshot_name: &str) -> LxdResult<String> {
        let pool = self.resolve_pool().await?;
        let domain = self.get_protection_domain(&pool.protection_domain_id).await?;
        let parent_id = self.get_volume_id(parent).await?;
        self.create_volume_snapshot(&domain.system_id, &parent_id, snapshot_name).await
    }

    /// `VolumeSnapshots()`: #12, #13, #21, keeping names that start with "s".
    async fn volume_snapshots(&mut self, name: &str) -> LxdResult<Vec<String>> {
        let id = self.get_volume_id(name).await?;
        let snapshots = self.get_volume_snapshots(&id).await?;
        Ok(snapshots.into_iter().filter(|s| s.name.starts_with('s')).map(|s| s.name).collect())
    }

    /// `RestoreVolume()` after the unmount: #12 ×2, #16.
    async fn restore(&mut self, name: &str, snapshot_name: &str) -> LxdResult<()> {
        let volume_id = self.get_volume_id(name).await?;
        let snapshot_id = self.get_volume_id(snapshot_name).await?;
        self.overwrite_volume(&volume_id, &snapshot_id).await
    }

    /// `CreateVolumeFromCopy()` with `powerflex.snapshot_copy=true`: `resolvePool`, #9, #12, #19
    /// with the destination's name.
    async fn copy(&mut self, source: &str, dest: &str) -> LxdResult<String> {
        self.create_snapshot(source, dest).await
    }

    /// `SetVolumeQuota()`: #12, #13, and #15 when growing.
    async fn set_quota(&mut self, name: &str, size_bytes: u64) -> LxdResult<()> {
        let id = self.get_volume_id(name).await?;
        let volume = self.get_volume(&id).await?;
        let old = volume.size_in_kb as u64 * 1024;
        let new = round_8gib(size_bytes);
        if old.abs_diff(new) <= 512 {
            return Ok(());
        }
        if new < old {
            return Err(LxdError::Decode("Volume capacity can only be increased".into()));
        }
        self.set_volume_size(&id, (new >> 30) as i64).await
    }

    /// `HasVolume()`: #12, where 500/79 means "not there".
    async fn has_volume(&mut self, name: &str) -> LxdResult<bool> {
        match self.get_volume_id(name).await {
            Ok(_) => Ok(true),
            Err(LxdError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `DeleteVolume()`: `HasVolume`, #12, #13, #27 for every mapping, #22 `ONLY_ME`.
    async fn delete(&mut self, name: &str) -> LxdResult<bool> {
        if !self.has_volume(name).await? {
            return Ok(false);
        }
        let id = self.get_volume_id(name).await?;
        let volume = self.get_volume(&id).await?;
        for mapping in &volume.mapped_sdc_info {
            self.delete_host_volume_mapping(&mapping.sdc_id, &id).await?;
        }
        self.delete_volume(&id, "ONLY_ME").await?;
        Ok(true)
    }

    /// `GetResources()` (PF4): `resolvePool`, #4. `(total, used)` in bytes.
    async fn resources(&mut self) -> LxdResult<(u64, u64)> {
        let pool = self.resolve_pool().await?;
        let stats = self.get_storage_pool_statistics(&pool.id).await?;
        Ok((
            (stats.net_unused_capacity_in_kb + stats.net_capacity_in_use_in_kb) * 1024,
            stats.net_capacity_in_use_in_kb * 1024,
        ))
    }
}

/// `roundAbove(8GiB, size)`, at least 8 GiB.
fn round_8gib(bytes: u64) -> u64 {
    let unit = 8u64 << 30;
    bytes.max(1).div_ceil(unit) * unit
}

/// LXD's volume name: prefix, the 16 UUID bytes in standard base64, suffix.
fn lxd_name(prefix: &str, uuid: [u8; 16], suffix: &str) -> String {
    format!("{prefix}{}{suffix}", STANDARD.encode(uuid))
}

const UUID_A: [u8; 16] =
    [0x5a, 0x25, 0x04, 0xb0, 0x6a, 0x6c, 0x48, 0x49, 0x8e, 0xe7, 0x9d, 0xb0, 0xb6, 0x74, 0xfd, 0x14];
/// Encodes with `+` and `/`.
const UUID_B: [u8; 16] =
    [0xfb, 0xff, 0xbf, 0x3e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xfb, 0xef, 0xff, 0x10];
const UUID_SNAP: [u8; 16] =
    [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00];
const UUID_COPY: [u8; 16] =
    [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10];

async fn start() -> (TestGateway, Lxd) {
    let gw = TestGateway::start_with(options()).await;
    let lxd = Lxd::new(&gw);
    (gw, lxd)
}

#[tokio::test]
async fn lxd_pool_creation_and_storage_info() {
    let (gw, mut lxd) = start().await;
    let identifier = lxd.create_pool().await.unwrap();
    assert_eq!(identifier, format!("{}-pd1-sp1", gw.url));
    let calls = lxd.take_calls();
    assert_eq!(calls[0], "POST /rest/auth/login");
    assert_eq!(calls[1], "GET /api/version");
    assert_eq!(calls[2], "POST /api/types/ProtectionDomain/instances/action/queryIdByKey");
    assert!(
        calls[3].starts_with("GET /api/instances/ProtectionDomain::")
            && calls[3].ends_with("/relationships/StoragePool")
    );
    assert!(calls[4].starts_with("GET /api/instances/StoragePool::"));
    assert!(calls[5].starts_with("GET /api/instances/ProtectionDomain::"));
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert_eq!(lxd.logins, 1);

    // Pool creation of lxd-5.21.0-5.21.3: the first SDT address.
    let addresses = lxd.target_addresses().await.unwrap();
    assert_eq!(addresses, ["127.0.0.2", "127.0.0.3"]);

    // `lxc storage info`: Total = (netUnused + netInUse) KiB, Used = netInUse KiB.
    let (total, used) = lxd.resources().await.unwrap();
    assert_eq!(used, 0);
    assert!(total > 0);
    let name = lxd_name("c_", UUID_A, "");
    lxd.create_lxd_volume(&name, 10 << 30, true).await.unwrap();
    let (total_after, used_after) = lxd.resources().await.unwrap();
    assert_eq!(total_after, total, "the total does not move");
    assert_eq!(used_after, 16 << 30, "a thick 16 GiB volume is used capacity");

    // Unknown domain and pool, as LXD reports them.
    lxd.domain = "nope".into();
    assert!(
        matches!(lxd.resolve_pool().await, Err(LxdError::NotFound(m)) if m.contains("protection domain not found"))
    );
    lxd.domain = "pd1".into();
    lxd.pool = "sp3".into();
    assert!(matches!(lxd.resolve_pool().await, Err(LxdError::NotFound(m)) if m.contains("Cannot find storage pool")));
    // `powerflex.pool` may also be the pool id.
    let sp2 = common::Api::connect(&gw).await.pool_id("sp2").await;
    lxd.pool = sp2.clone();
    assert_eq!(lxd.resolve_pool().await.unwrap().id, sp2);
}

#[tokio::test]
async fn lxd_volume_create_map_unmap_resize_and_delete() {
    let (_gw, mut lxd) = start().await;
    let fs = lxd_name("c_", UUID_A, "");
    let block = lxd_name("v_", UUID_B, ".b");
    let config = lxd_name("v_", UUID_B, "");
    assert!(block.contains('+') && block.contains('/') && block.ends_with("==.b"), "{block}");
    lxd.create_pool().await.unwrap();

    for name in [&fs, &block, &config] {
        let id = lxd.create_lxd_volume(name, 8 << 30, false).await.unwrap();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let volume = lxd.get_volume(&id).await.unwrap();
        assert_eq!((volume.name.as_str(), volume.volume_type.as_str()), (name.as_str(), "ThinProvisioned"));
        assert_eq!(volume.size_in_kb, 8 * GIB_KB as i64);
        assert!(volume.mapped_sdc_info.is_empty());
        assert_eq!(volume.ancestor_volume_id, "", "null decodes to the empty string");
    }
    // A size that is not a multiple of 8 GiB is rounded by LXD before it is sent.
    let odd = lxd_name("u_", UUID_SNAP, ".b");
    let odd_id = lxd.create_lxd_volume(&odd, 9 << 30, false).await.unwrap();
    assert_eq!(lxd.get_volume(&odd_id).await.unwrap().size_in_kb, 16 * GIB_KB as i64);

    // First map: the host does not exist yet (#23, #24), then #12, #13, #26, resolvePool, #11.
    lxd.take_calls();
    let (host, mapped) = lxd.map_volume(&fs).await.unwrap();
    assert!(mapped);
    assert_eq!(&host[8..12], "0001");
    let calls = lxd.take_calls();
    let expected_prefixes = [
        "GET /api/types/Sdc/instances",
        "POST /api/types/Host/instances",
        "POST /api/types/Volume/instances/action/queryIdByKey",
        "GET /api/instances/Volume::",
        "POST /api/instances/Volume::",
        "POST /api/types/ProtectionDomain/instances/action/queryIdByKey",
        "GET /api/instances/ProtectionDomain::",
        "GET /api/instances/StoragePool::",
        "GET /api/instances/ProtectionDomain::",
    ];
    assert_eq!(calls.len(), expected_prefixes.len(), "{calls:?}");
    for (call, prefix) in calls.iter().zip(expected_prefixes) {
        assert!(call.starts_with(prefix), "{call} should start with {prefix}");
    }
    assert!(calls[4].ends_with("/action/addMappedHost") && calls[8].ends_with("/relationships/Sdt"), "{calls:?}");

    // The mapping is in mappedSdcInfo the way LXD reads it, so a second map adds nothing.
    let fs_id = lxd.get_volume_id(&fs).await.unwrap();
    let volume = lxd.get_volume(&fs_id).await.unwrap();
    assert_eq!(volume.mapped_sdc_info.len(), 1);
    let m = &volume.mapped_sdc_info[0];
    assert_eq!(
        (m.sdc_id.as_str(), m.sdc_name.as_str(), m.nqn.as_str(), m.host_type.as_str()),
        (host.as_str(), "lxd-member-1", lxd.host_nqn.as_str(), "NVMeHost")
    );
    let (again, mapped) = lxd.map_volume(&fs).await.unwrap();
    assert_eq!((again.as_str(), mapped), (host.as_str(), false));
    assert!(!lxd.take_calls().iter().any(|c| c.ends_with("addMappedHost")));
    // The host as #23 lists it.
    let hosts = lxd.get_hosts().await.unwrap();
    let listed = hosts.iter().find(|h| h.id == host).unwrap();
    assert_eq!(
        (listed.name.as_str(), listed.host_type.as_str(), listed.sdc_guid.as_str()),
        ("lxd-member-1", "NVMeHost", "")
    );
    assert_eq!(listed.system_id.len(), 16);

    // A VM: both volumes on the same host; the host stays until the last unmap.
    let (vm_host, _) = lxd.map_volume(&block).await.unwrap();
    assert_eq!(vm_host, host);
    assert!(!lxd.unmap_volume(&fs).await.unwrap(), "the block volume still maps the host");
    assert_eq!(lxd.get_host_volume_mappings(&host).await.unwrap().len(), 1);
    lxd.take_calls();
    assert!(lxd.unmap_volume(&block).await.unwrap(), "the last unmap deletes the host");
    let calls = lxd.take_calls();
    let removal = calls.iter().find(|c| c.ends_with("/action/removeSdc")).expect("#25");
    assert_eq!(removal, &format!("POST /api/instances/Sdc::{host}/action/removeSdc"));
    assert!(lxd.get_hosts().await.unwrap().iter().all(|h| h.id != host));
    // Unmapping again: the host is gone, as LXD finds out through #23.
    assert!(matches!(lxd.unmap_volume(&block).await, Err(LxdError::NotFound(_))));

    // Re-mapping creates the host again, with a new id.
    let (new_host, mapped) = lxd.map_volume(&fs).await.unwrap();
    assert!(mapped);
    assert_ne!(new_host, host);
    // A missing mapping: 500/4039, which LXD turns into a 404.
    let block_id = lxd.get_volume_id(&block).await.unwrap();
    let missing = lxd.delete_host_volume_mapping(&new_host, &block_id).await;
    assert!(matches!(missing, Err(LxdError::NotFound(m)) if m.contains("does not exist")));

    // Resize: grow through #15, refuse to shrink on LXD's side.
    lxd.set_quota(&block, 16 << 30).await.unwrap();
    assert_eq!(lxd.get_volume(&block_id).await.unwrap().size_in_kb, 16 * GIB_KB as i64);
    lxd.set_quota(&block, 20 << 30).await.unwrap();
    assert_eq!(lxd.get_volume(&block_id).await.unwrap().size_in_kb, 24 * GIB_KB as i64);
    lxd.set_quota(&block, 24 << 30).await.unwrap();

    // `lxd recover` lists the pool's volumes by name (#6).
    let pool = lxd.resolve_pool().await.unwrap();
    let mut names: Vec<String> =
        lxd.get_storage_pool_volumes(&pool.id).await.unwrap().into_iter().map(|v| v.name).collect();
    names.sort();
    let mut expected = vec![fs.clone(), block.clone(), config.clone(), odd.clone()];
    expected.sort();
    assert_eq!(names, expected);

    // Delete: the mapped volume is unmapped first (#27 per mapping), then removed (#22).
    lxd.take_calls();
    assert!(lxd.delete(&fs).await.unwrap());
    let calls = lxd.take_calls();
    let kinds: Vec<_> = calls.iter().map(|c| c.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(
        kinds,
        ["queryIdByKey", "queryIdByKey", format!("Volume::{fs_id}").as_str(), "removeMappedHost", "removeVolume"]
    );
    assert!(!lxd.has_volume(&fs).await.unwrap());
    // Deleting what is gone is a success for LXD (HasVolume sees 500/79).
    assert!(!lxd.delete(&fs).await.unwrap());
    for name in [&block, &config, &odd] {
        assert!(lxd.delete(name).await.unwrap());
    }
    assert!(lxd.get_storage_pool_volumes(&pool.id).await.unwrap().is_empty());
    // The host is not deleted by DeleteVolume.
    assert!(lxd.get_hosts().await.unwrap().iter().any(|h| h.id == new_host));
}

#[tokio::test]
async fn lxd_snapshots_restore_copy_and_delete() {
    let (_gw, mut lxd) = start().await;
    lxd.create_pool().await.unwrap();
    let vol = lxd_name("c_", UUID_A, "");
    let snap = lxd_name("sc_", UUID_SNAP, "");
    let copy = lxd_name("c_", UUID_COPY, "");
    let vol_id = lxd.create_lxd_volume(&vol, 8 << 30, false).await.unwrap();

    // Snapshot: resolvePool, #9 (systemId), #12, #19.
    lxd.take_calls();
    let snap_id = lxd.create_snapshot(&vol, &snap).await.unwrap();
    let calls = lxd.take_calls();
    assert!(
        calls.last().unwrap().starts_with("POST /api/instances/System::")
            && calls.last().unwrap().ends_with("/action/snapshotVolumes")
    );
    assert_eq!(calls.len(), 6, "{calls:?}");
    let s = lxd.get_volume(&snap_id).await.unwrap();
    let v = lxd.get_volume(&vol_id).await.unwrap();
    assert_eq!(
        (s.volume_type.as_str(), s.ancestor_volume_id.as_str(), s.vtree_id.as_str()),
        ("Snapshot", vol_id.as_str(), v.vtree_id.as_str())
    );
    assert_eq!(s.size_in_kb, v.size_in_kb);

    // A PF4 snapshot can be mapped (mounting a snapshot maps the snapshot volume itself).
    let (host, mapped) = lxd.map_volume(&snap).await.unwrap();
    assert!(mapped);
    assert!(lxd.unmap_volume(&snap).await.unwrap());
    assert!(lxd.get_hosts().await.unwrap().iter().all(|h| h.id != host));

    // Listing: #12, #13, #21, children of the volume named "s...".
    assert_eq!(lxd.volume_snapshots(&vol).await.unwrap(), [snap.as_str()]);

    // Restore: #12 ×2, #16 on the volume.
    lxd.take_calls();
    lxd.restore(&vol, &snap).await.unwrap();
    let calls = lxd.take_calls();
    assert_eq!(calls.last().unwrap(), &format!("POST /api/instances/Volume::{vol_id}/action/overwriteVolumeContent"));

    // Copy with snapshot_copy: a snapshot in the source's VTree, named like a volume, that is
    // then grown by SetVolumeQuota.
    let copy_id = lxd.copy(&vol, &copy).await.unwrap();
    let c = lxd.get_volume(&copy_id).await.unwrap();
    assert_eq!(
        (c.vtree_id.as_str(), c.ancestor_volume_id.as_str(), c.name.as_str()),
        (v.vtree_id.as_str(), vol_id.as_str(), copy.as_str())
    );
    lxd.set_quota(&copy, 16 << 30).await.unwrap();
    assert_eq!(lxd.get_volume(&copy_id).await.unwrap().size_in_kb, 16 * GIB_KB as i64);
    // The copy is a child but not a snapshot to LXD (its name has no "s" prefix).
    assert_eq!(lxd.volume_snapshots(&vol).await.unwrap(), [snap.as_str()]);
    let children = lxd.get_volume_snapshots(&vol_id).await.unwrap();
    assert_eq!(children.len(), 2);

    // Names too long: LXD matches 500/226 on snapshots.
    let long = format!("s{}", "x".repeat(31));
    assert!(
        matches!(lxd.create_snapshot(&vol, &long).await, Err(LxdError::NotFound(m)) if m.contains("allowed length"))
    );

    // The upgrade patch renames old unprefixed snapshots (#12, #17).
    let old_style = lxd_name("c_", [7; 16], "");
    let old_id = lxd.create_snapshot(&vol, &old_style).await.unwrap();
    let renamed = format!("s{old_style}");
    let id = lxd.get_volume_id(&old_style).await.unwrap();
    assert_eq!(id, old_id);
    lxd.rename_volume(&id, &renamed).await.unwrap();
    let mut listed = lxd.volume_snapshots(&vol).await.unwrap();
    listed.sort();
    let mut expected = vec![snap.clone(), renamed.clone()];
    expected.sort();
    assert_eq!(listed, expected);

    // Delete the snapshots first (as LXD does), then the volume with ONLY_ME: the copy survives.
    assert!(lxd.delete(&snap).await.unwrap());
    assert!(lxd.delete(&renamed).await.unwrap());
    assert!(lxd.delete(&vol).await.unwrap());
    assert!(!lxd.has_volume(&vol).await.unwrap());
    let c = lxd.get_volume(&copy_id).await.unwrap();
    assert_eq!(c.name, copy);
    assert_eq!(c.size_in_kb, 16 * GIB_KB as i64);
    // The copy can still be snapshotted and restored from its own snapshot.
    let copy_snap = lxd_name("sc_", UUID_COPY, "");
    lxd.create_snapshot(&copy, &copy_snap).await.unwrap();
    lxd.restore(&copy, &copy_snap).await.unwrap();
    assert_eq!(lxd.volume_snapshots(&copy).await.unwrap(), [copy_snap.as_str()]);
    assert!(lxd.delete(&copy_snap).await.unwrap());
    assert!(lxd.delete(&copy).await.unwrap());
}

#[tokio::test]
async fn lxd_error_codes_it_matches() {
    let (_gw, mut lxd) = start().await;
    lxd.create_pool().await.unwrap();
    let pool = lxd.resolve_pool().await.unwrap();
    // 226 on create, with the exact body shape LXD decodes into powerFlexError.
    let long = format!("c_{}", "A".repeat(30));
    match lxd.call::<IdResponse>(
        Method::POST,
        "/api/types/Volume/instances",
        Some(json!({ "name": long, "volumeSizeInGb": "8", "volumeType": "ThinProvisioned", "storagePoolId": pool.id })),
    )
    .await
    {
        Err(e @ LxdError::PowerFlex(_)) => assert!(e.is(226.0), "{e:?}"),
        other => panic!("expected a PowerFlex error, got {other:?}"),
    }
    assert!(matches!(lxd.create_volume(&long, 8, "ThinProvisioned", &pool.id).await, Err(LxdError::NotFound(_))));
    // 79 on a missing volume.
    let missing = lxd
        .call::<String>(
            Method::POST,
            "/api/types/Volume/instances/action/queryIdByKey",
            Some(json!({ "name": "c_gone" })),
        )
        .await;
    assert!(matches!(&missing, Err(e) if e.is(79.0)), "{missing:?}");
    // 142 on a missing domain.
    let missing = lxd
        .call::<String>(
            Method::POST,
            "/api/types/ProtectionDomain/instances/action/queryIdByKey",
            Some(json!({ "name": "pdX" })),
        )
        .await;
    assert!(matches!(&missing, Err(e) if e.is(142.0)), "{missing:?}");
    // A duplicate name is an error LXD does not translate (it checks HasVolume first).
    let name = lxd_name("u_", UUID_A, "");
    lxd.create_lxd_volume(&name, 8 << 30, false).await.unwrap();
    let dup = lxd.create_lxd_volume(&name, 8 << 30, false).await;
    assert!(matches!(&dup, Err(e) if e.is(99.0)), "{dup:?}");
    // Every error body carries numbers, never strings, for the two fields LXD reads.
    if let Err(LxdError::PowerFlex(map)) = dup {
        assert!(map["httpStatusCode"].is_number() && map["errorCode"].is_number());
        assert!(map["message"].is_string());
    }
}

#[tokio::test]
async fn lxd_logs_in_again_once_on_an_html_401() {
    let (gw, mut lxd) = start().await;
    lxd.create_pool().await.unwrap();
    assert_eq!(lxd.logins, 1);
    // Every token dies (as after a gateway restart or a token lifetime).
    let admin = common::http_client(&gw.ca_cert_pem);
    let expired = admin
        .post(format!("{}/sim/tokens/expire", gw.url))
        .basic_auth(&gw.user, Some(&gw.password))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status().as_u16(), 200);
    // The next call with a body gets the HTML 401, logs in again and resends the body.
    lxd.take_calls();
    let name = lxd_name("c_", UUID_B, "");
    let id = lxd.create_lxd_volume(&name, 8 << 30, false).await.unwrap();
    assert_eq!(lxd.logins, 2);
    let calls = lxd.take_calls();
    assert_eq!(
        &calls[..3],
        [
            "POST /api/types/ProtectionDomain/instances/action/queryIdByKey",
            "POST /rest/auth/login",
            "POST /api/types/ProtectionDomain/instances/action/queryIdByKey"
        ]
    );
    assert_eq!(lxd.get_volume(&id).await.unwrap().name, name);
    // A bad password: the login itself fails with the JSON 401, which LXD does not retry.
    lxd.token.clear();
    lxd.password = "wrong".into();
    match lxd.get_version().await {
        Err(e @ LxdError::PowerFlex(_)) => {
            assert_eq!((e.http_status_code(), e.error_code()), (401.0, 0.0));
        }
        other => panic!("expected the JSON 401, got {other:?}"),
    }
}

/// The decoders above are as strict as `encoding/json`, so the replay's checks have teeth.
#[test]
fn go_decoding_is_as_strict_as_encoding_json() {
    let volume = |v: Value| Lxd::decode::<PowerFlexVolume>("/test", v.to_string().as_bytes());
    let ok =
        volume(json!({ "id": "0a", "name": null, "sizeInKb": 8388608, "mappedSdcInfo": null, "extra": [1] })).unwrap();
    assert_eq!((ok.id.as_str(), ok.name.as_str(), ok.size_in_kb), ("0a", "", 8388608));
    assert!(ok.mapped_sdc_info.is_empty());
    for bad in [
        json!({ "sizeInKb": "8388608" }),
        json!({ "sizeInKb": 8388608.5 }),
        json!({ "id": 10 }),
        json!({ "mappedSdcInfo": {} }),
        json!({ "mappedSdcInfo": [{ "sdcId": 1 }] }),
        json!([]),
    ] {
        assert!(matches!(volume(bad.clone()), Err(LxdError::Decode(_))), "{bad} must not decode");
    }
    let stats = |v: Value| Lxd::decode::<PowerFlexStoragePoolStatistics>("/test", v.to_string().as_bytes());
    assert!(stats(json!({ "netUnusedCapacityInKb": -1 })).is_err());
    assert!(stats(json!({ "netUnusedCapacityInKb": "1" })).is_err());
    let pool = |v: Value| Lxd::decode::<PowerFlexStoragePool>("/test", v.to_string().as_bytes());
    assert!(pool(json!({ "zeroPaddingEnabled": "true" })).is_err());
    assert!(Lxd::decode::<String>("/test", b"4.5").is_err(), "an unquoted version is no Go string");
    assert_eq!(Lxd::decode::<String>("/test", b"\"4.5\"").unwrap(), "4.5");
}
