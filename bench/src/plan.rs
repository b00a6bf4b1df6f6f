//! The workloads of a run, each with its preparation. Most need nothing but their driver;
//! some change the system around their measured run (W4 freezes messaging, W4 notify opens
//! listening streams), undo it afterwards and may add a section to the report.

use std::future::Future;
use std::pin::Pin;

use crate::measure::Driver;
use crate::report::Target;

/// A future of this single-threaded run.
pub(crate) type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

/// A part of the report besides the workloads' table: its targets and its own markdown.
pub(crate) trait Section {
    fn targets(&self) -> Vec<Target>;
    fn markdown(&self) -> String;
}

/// What ends a prepared workload once it has been measured.
pub(crate) type Finish = Box<dyn FnOnce() -> Pending<anyhow::Result<Option<Box<dyn Section>>>>>;

/// A workload ready to be measured.
pub(crate) struct Prepared {
    pub(crate) driver: Driver,
    pub(crate) finish: Option<Finish>,
}

/// A workload to run: its id, its name and how to prepare it.
pub(crate) struct Planned {
    pub(crate) id: &'static str,
    pub(crate) name: String,
    pub(crate) prepare: Box<dyn Fn() -> Pending<anyhow::Result<Prepared>>>,
}

impl Planned {
    /// A workload that needs nothing but a fresh driver.
    pub(crate) fn driven(
        id: &'static str,
        name: impl Into<String>,
        driver: impl Fn() -> Driver + 'static,
    ) -> Self {
        Self::prepared(id, name, move || {
            let driver = driver();
            Box::pin(async move { Ok(Prepared { driver, finish: None }) })
        })
    }

    /// A workload with a preparation of its own.
    pub(crate) fn prepared(
        id: &'static str,
        name: impl Into<String>,
        prepare: impl Fn() -> Pending<anyhow::Result<Prepared>> + 'static,
    ) -> Self {
        Self { id, name: name.into(), prepare: Box::new(prepare) }
    }
}
