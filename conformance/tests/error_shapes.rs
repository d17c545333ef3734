//! Error shapes pinned with insta: the bodies the intact simulator sends for
//! every condition the model predicts (see `scenarios::errors`).

mod common;

use powerflex_conformance::data::DataMode;
use powerflex_conformance::progress::Progress;
use powerflex_conformance::scenarios::{self, errors};
use powerflex_conformance::sut::{Harness, PoolSel, Target};

#[test]
fn error_bodies_match_the_snapshots() {
    let sim = common::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let target = Target {
            gateway: sim.url.clone(),
            user: "admin".into(),
            password: "Password123!".into(),
            ca_pem: Some(std::fs::read(&sim.ca).unwrap()),
            insecure: false,
            pool: PoolSel::Named { pool: "sp1".into(), domain: "pd1".into() },
            data: DataMode::None,
        };
        let hx = Harness::connect(target, 1, Progress::silent()).await.expect("connect");
        let inst = hx.next_instance();
        let shapes = errors::collect(&hx, inst).await.expect("every error provoked");
        assert!(scenarios::cleanup_instance(&hx, inst).await.is_empty());
        assert!(hx.cleanup_run().await.is_empty());
        for ((case, status, body), (want_case, want)) in shapes.iter().zip(errors::expected()) {
            assert_eq!(case, want_case);
            assert!(errors::contains(body, &want), "{case}: {body} lacks {want}");
            insta::assert_json_snapshot!(case.as_str(), serde_json::json!({"status": status, "body": body}));
        }
    });
}
