//! The array under test, behind one trait, so the run frame (CLI, signals,
//! cleanup, reports) is the same for every array.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use crate::areas::Area;
use crate::data::DataMode;
use crate::machine::{PropertyConfig, PropertyOutcome, RunFrame};
use crate::report::ScenarioResult;
use crate::{alletra, machine, scenarios, sut};

/// Which array the gateway is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Array {
    /// Dell PowerFlex 4.x REST gateway.
    Powerflex,
    /// HPE Alletra 9000 / Primera / 3PAR WSAPI v1.
    Alletra,
}

impl Array {
    /// Its name in a report.
    pub fn title(self) -> &'static str {
        match self {
            Array::Powerflex => "PowerFlex",
            Array::Alletra => "Alletra",
        }
    }

    /// The behaviour areas a report lists for this array.
    pub fn areas(self) -> &'static [Area] {
        match self {
            Array::Powerflex => &Area::POWERFLEX,
            Array::Alletra => &Area::ALLETRA,
        }
    }
}

/// One run against one array: what the frame asks of it.
#[async_trait]
pub trait ArrayRun: RunFrame + Send + Sync {
    /// Which array.
    fn array(&self) -> Array;
    /// The run tag in every created name.
    fn tag(&self) -> &str;
    /// Where the run works (pool, volume set), for the opening line.
    fn place(&self) -> String;
    /// The data connector.
    fn data(&self) -> DataMode;
    /// Marks the run interrupted: it stops after the current step.
    fn interrupt(&self);
    /// The gateway's version.
    async fn version(&self) -> String;
    /// Runs the fixed scenarios whose names contain one of `only`; blocks the
    /// calling thread, which must not be inside the runtime.
    fn scenarios(&self, only: &[String], out: &Mutex<Vec<ScenarioResult>>);
    /// Replays the fixed sequences, stopping when interrupted.
    fn fixed_sequences(self: Arc<Self>) -> Vec<ScenarioResult>;
    /// Runs the state-machine property.
    fn property(self: Arc<Self>, cfg: &PropertyConfig) -> PropertyOutcome;
    /// Removes everything the run created; returns what failed.
    async fn cleanup_run(&self) -> Vec<String>;
}

#[async_trait]
impl ArrayRun for sut::Harness {
    fn array(&self) -> Array {
        Array::Powerflex
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn place(&self) -> String {
        format!("pool {}", self.pool_id())
    }
    fn data(&self) -> DataMode {
        self.target.data
    }
    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }
    async fn version(&self) -> String {
        self.client().version().await.unwrap_or_else(|e| format!("unknown ({e})"))
    }
    fn scenarios(&self, only: &[String], out: &Mutex<Vec<ScenarioResult>>) {
        self.rt.block_on(scenarios::run(self, only, out))
    }
    fn fixed_sequences(self: Arc<Self>) -> Vec<ScenarioResult> {
        machine::fixed_sequences()
            .into_iter()
            .take_while(|_| !RunFrame::interrupted(self.as_ref()))
            .map(|(name, steps)| machine::run_fixed(self.clone(), name, steps))
            .collect()
    }
    fn property(self: Arc<Self>, cfg: &PropertyConfig) -> PropertyOutcome {
        machine::run_property(self, cfg)
    }
    async fn cleanup_run(&self) -> Vec<String> {
        sut::Harness::cleanup_run(self).await
    }
}

#[async_trait]
impl ArrayRun for alletra::sut::Harness {
    fn array(&self) -> Array {
        Array::Alletra
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn place(&self) -> String {
        format!("volume set {} in CPG {}", self.pool(), self.target.cpg)
    }
    fn data(&self) -> DataMode {
        self.target.data
    }
    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }
    async fn version(&self) -> String {
        self.raw.version().await.unwrap_or_else(|e| format!("unknown ({e})"))
    }
    fn scenarios(&self, only: &[String], out: &Mutex<Vec<ScenarioResult>>) {
        self.rt.block_on(alletra::scenarios::run(self, only, out))
    }
    fn fixed_sequences(self: Arc<Self>) -> Vec<ScenarioResult> {
        alletra::machine::fixed_sequences(self.target.data.checks_content())
            .into_iter()
            .take_while(|_| !RunFrame::interrupted(self.as_ref()))
            .map(|(name, steps)| alletra::machine::run_fixed(self.clone(), name, steps))
            .collect()
    }
    fn property(self: Arc<Self>, cfg: &PropertyConfig) -> PropertyOutcome {
        alletra::machine::run_property(self, cfg)
    }
    async fn cleanup_run(&self) -> Vec<String> {
        alletra::sut::Harness::cleanup_run(self).await
    }
}
