//! TLS for the gateway: a local CA and a server certificate made with rcgen on first start
//! and kept, or a certificate and key the user brings.
//!
//! Clients trust `ca.pem` (printed at start). The server certificate names `localhost`,
//! `127.0.0.1`, `::1` and the listen address; when the listen address is not covered, both are
//! made anew.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("making a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: no usable PEM {what} in the file")]
    Pem { path: PathBuf, what: &'static str },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The files a server runs with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// What clients should trust: the generated CA, or the brought certificate itself.
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Io { path: path.to_path_buf(), source }
}

fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(path).map_err(io_err(path))?;
    // `mode` applies only to a new file; an old key file gets the same permissions.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io_err(path))?;
    file.write_all(contents.as_bytes()).map_err(io_err(path))
}

/// The self-signed set in `dir`, made if absent or if it does not cover `listen_ip`.
pub fn ensure_self_signed(dir: &Path, listen_ip: IpAddr) -> Result<TlsFiles, TlsError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let files = TlsFiles { ca_cert: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") };
    let names_file = dir.join("server.names");
    let wanted = subject_names(listen_ip);
    let have = fs::read_to_string(&names_file).unwrap_or_default();
    if files.cert.exists() && files.key.exists() && files.ca_cert.exists() && have.trim() == wanted.join(",") {
        return Ok(files);
    }
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "pflex-sim local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(Vec::<String>::new())?;
    leaf.distinguished_name.push(DnType::CommonName, "pflex-sim");
    leaf.subject_alt_names = wanted
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;
    fs::write(&files.ca_cert, ca_cert.pem()).map_err(io_err(&files.ca_cert))?;
    fs::write(&files.cert, cert.pem() + &ca_cert.pem()).map_err(io_err(&files.cert))?;
    write_private(&files.key, &key.serialize_pem())?;
    fs::write(&names_file, wanted.join(",")).map_err(io_err(&names_file))?;
    Ok(files)
}

fn subject_names(listen_ip: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if !listen_ip.is_unspecified() && !names.contains(&listen_ip.to_string()) {
        names.push(listen_ip.to_string());
    }
    names
}

/// A rustls server configuration (ring provider, HTTP/1.1 and h2) for `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|_| TlsError::Pem { path: files.cert.clone(), what: "certificate" })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem { path: files.cert.clone(), what: "certificate" })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: files.cert.clone(), what: "certificate" });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|_| TlsError::Pem { path: files.key.clone(), what: "private key" })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
