//! `drv_cfg`'s answers in the real tool's formats, as CloudStack's `ScaleIOUtil` documents and
//! parses them (`--query_vols`: `awk '{print $4}'` for the system; `--query_mdms`:
//! `awk '{print $5}'` for the SDC id; goscaleio's `MDM-ID ([a-f0-9]+) SDC ID ([a-f0-9]+)`).

use crate::control::Status;

/// `--query_guid`: the GUID alone.
pub fn query_guid(s: &Status) -> String {
    format!("{}\n", s.guid)
}

/// `--query_vols`.
pub fn query_vols(s: &Status) -> String {
    let mut out = format!("Retrieved {} volume(s)\n", s.volumes.len());
    for v in &s.volumes {
        out.push_str(&format!("VOL-ID {v} MDM-ID {}\n", s.system_id));
    }
    out
}

/// `--query_mdms` (and goscaleio's `--query_mdm`): the one MDM cluster this SDC joined.
pub fn query_mdms(s: &Status) -> String {
    let ips: Vec<String> = s.mdm_ips.iter().enumerate().map(|(i, ip)| format!("[{i}]-{ip}")).collect();
    format!(
        "Retrieved 1 mdm(s)\nMDM-ID {} SDC ID {} INSTALLATION ID {} IPs {}\n",
        s.system_id,
        s.sdc_id,
        s.install_id,
        ips.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            guid: "B0E3BFB8-C20B-43BF-93C8-13339E85AA50".into(),
            sdc_id: "6b18479c00000003".into(),
            system_id: "218ce1797566a00f".into(),
            install_id: "68ab55462cbb3ae4".into(),
            mdm_ips: vec!["127.0.0.1".into()],
            volumes: vec!["6c33633100000009".into(), "6c3362a30000000a".into()],
        }
    }

    #[test]
    fn outputs_parse_as_cloudstack_and_goscaleio_parse_them() {
        let vols = query_vols(&status());
        let line = vols.lines().find(|l| l.contains("6c3362a30000000a")).unwrap();
        assert_eq!(line.split_whitespace().nth(3), Some("218ce1797566a00f"));
        assert!(vols.starts_with("Retrieved 2 volume(s)\n"));
        let mdms = query_mdms(&status());
        let line = mdms.lines().find(|l| l.contains("218ce1797566a00f")).unwrap();
        assert_eq!(line.split_whitespace().nth(4), Some("6b18479c00000003"));
        assert!(line.contains(
            "MDM-ID 218ce1797566a00f SDC ID 6b18479c00000003 INSTALLATION ID 68ab55462cbb3ae4 IPs [0]-127.0.0.1"
        ));
        assert_eq!(query_guid(&status()), "B0E3BFB8-C20B-43BF-93C8-13339E85AA50\n");
    }
}
