//! Operations on a whole table: its contract (`_table.json`, or a Delta table's properties),
//! its committed partitions, what it holds whatever its format, and its deletion for a
//! rebuild. Opening a table under a contract happens under the table's lock.

use std::fs;
use std::sync::atomic::Ordering;

use crate::contract::{ContractCheck, TableContract, CONTRACT};
use crate::file::SinkError;
use crate::format::api::Compared;
use crate::format::delta::DELTA_LOG;
use crate::lock::TableLock;
use crate::partition::MANIFEST;
use crate::sink::{check_name, Sink, TableOverview, FILES};
use crate::store::{sync_dir, write_atomic};

impl Sink {
    /// The contract stored with `table` (`<table>/_table.json`), if it has one.
    ///
    /// In a Delta table, the contract is the table's `cake.*` properties. A table
    /// of the other format counts as one with a contract (an empty one when it has none), so
    /// that [`Sink::open_table`] refuses it (or rebuilds it).
    pub async fn table_contract(&self, table: &str) -> Result<Option<TableContract>, SinkError> {
        check_name(table)?;
        crate::format::contract(self, table).await
    }

    /// What [`Sink::open_table`] would find for `contract`, without locking or writing
    /// anything (a dry run): [`ContractCheck::Created`] for a table that does not exist yet,
    /// [`ContractCheck::Matches`], or with `rebuild` [`ContractCheck::Rebuilt`] for a table
    /// whose contract differs; without `rebuild` a differing table is the error a real run
    /// gets.
    pub async fn preview_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        check_name(table)?;
        let compared = crate::format::compare(self, table, contract, rebuild).await?;
        match compared {
            Compared::Missing => Ok(ContractCheck::Created),
            Compared::Same => Ok(ContractCheck::Matches),
            Compared::Differs { .. } if rebuild => Ok(ContractCheck::Rebuilt),
            Compared::Differs { differences, .. } => Err(self.mismatch(table, differences)),
        }
    }

    /// The refusal of a run whose contract differs from `table`'s.
    pub(crate) fn mismatch(
        &self,
        table: &str,
        differences: Vec<crate::contract::ContractDifference>,
    ) -> SinkError {
        SinkError::ContractMismatch {
            table: table.to_string(),
            location: self.store.location_of(table),
            differences,
        }
    }

    /// The committed partitions of `table` (`date=2024-01-31`, ...), sorted: the directories
    /// that hold a `_SUCCESS` manifest, or in a Delta table the partitions of the
    /// table's current files.
    pub async fn partitions(&self, table: &str) -> Result<Vec<String>, SinkError> {
        check_name(table)?;
        crate::format::partitions(self, table).await
    }

    /// What `table` holds, in whichever format it was written (a table with a Delta log is
    /// read as Delta, whatever this sink's own format): its contract and its committed
    /// partitions. Nothing is locked; a partition being committed may or may not be listed.
    pub async fn overview(&self, table: &str) -> Result<TableOverview, SinkError> {
        check_name(table)?;
        crate::format::overview(self, table).await
    }

    /// Opens `table` under `contract`, under the table's lock. Without a stored contract,
    /// writes this one ([`ContractCheck::Created`]); with an equal one,
    /// [`ContractCheck::Matches`]. With a different one: when `rebuild`, deletes every object
    /// of the table (its partitions, manifests and old contract) and writes this one
    /// ([`ContractCheck::Rebuilt`]); otherwise fails with [`SinkError::ContractMismatch`],
    /// which lists the differing fields, and changes nothing.
    ///
    /// The sink remembers the contract: every later commit of the table checks, under the
    /// lock, that the stored contract is still this one (another run may have rebuilt the
    /// table under another contract in the meantime) and refuses otherwise.
    pub async fn open_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        check_name(table)?;
        let mut lock = self.lock_table(table, None).await?;
        let result = crate::format::open_locked(self, &mut lock, table, contract, rebuild).await;
        lock.release().await;
        let check = result?;
        self.contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(table.to_string(), contract.clone());
        Ok(check)
    }

    /// Writes a file at a table's root atomically. Locally its temporary copy is written in
    /// this run's staging directory, so a run killed in the middle leaves nothing in the table
    /// (a temporary file beside the target would stay there).
    pub(crate) async fn put_table_file(&self, rel: &str, bytes: &[u8]) -> Result<(), SinkError> {
        match self.store.local_root() {
            Some(root) => {
                let target = root.join(rel);
                let temp = self.staging.dir.join(format!(
                    "table-file{}",
                    FILES.fetch_add(1, Ordering::Relaxed)
                ));
                write_atomic(&temp, bytes)?;
                let io = |source| SinkError::Io {
                    path: target.clone(),
                    source,
                };
                let dir = target.parent().unwrap_or(root);
                fs::create_dir_all(dir).map_err(io)?;
                fs::rename(&temp, &target).map_err(io)?;
                sync_dir(dir)
            }
            None => self.store.put_bytes(rel, bytes.to_vec()).await,
        }
    }

    /// Deletes every object of `table` but, with `keep_contract`, its `_table.json`, which the
    /// caller overwrites next (so a rebuild interrupted here still fails the old contract's
    /// check): locally the table's directory is moved into staging whole and removed; on
    /// object storage a Delta log goes first (`_last_checkpoint`, then the log's entries in
    /// order, so that the table stops being readable at once), then the manifests (readers
    /// that wait for `_SUCCESS` stop reading), then the other objects.
    pub(crate) async fn delete_table(
        &self,
        lock: &mut TableLock,
        table: &str,
        keep_contract: bool,
    ) -> Result<(), SinkError> {
        match self.store.local_root() {
            Some(root) => {
                let dir = root.join(table);
                let contract = match keep_contract {
                    true => self.store.get_bytes(&format!("{table}/{CONTRACT}")).await?,
                    false => None,
                };
                let trash = self
                    .staging
                    .dir
                    .join(format!("trash{}", FILES.fetch_add(1, Ordering::Relaxed)));
                match fs::rename(&dir, &trash) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(source) => return Err(SinkError::Io { path: dir, source }),
                }
                sync_dir(root)?;
                // The old contract stays in place until the new one replaces it.
                if let Some(bytes) = contract {
                    self.put_table_file(&format!("{table}/{CONTRACT}"), &bytes)
                        .await?;
                }
                fs::remove_dir_all(&trash).map_err(|source| SinkError::Io {
                    path: trash.clone(),
                    source,
                })
            }
            None => {
                let all = self.store.list_recursive(table).await?;
                let contract = format!("{table}/{CONTRACT}");
                let log = format!("{table}/{DELTA_LOG}/");
                let rank = |rel: &str| {
                    if rel == contract {
                        4
                    } else if rel == format!("{log}_last_checkpoint") {
                        0
                    } else if rel.starts_with(&log) {
                        1
                    } else if rel.rsplit('/').next() == Some(MANIFEST) {
                        2
                    } else {
                        3
                    }
                };
                let mut order: Vec<(u8, &String)> = all
                    .iter()
                    .filter(|rel| !(keep_contract && **rel == contract))
                    .map(|rel| (rank(rel), rel))
                    .collect();
                order.sort();
                for (_, rel) in order {
                    lock.keep().await?;
                    self.store.delete(rel).await?;
                }
                Ok(())
            }
        }
    }

    /// Under the table's lock: refuses a commit when this sink opened the table with a
    /// contract and the stored one is no longer it.
    pub(crate) async fn check_contract(&self, table: &str) -> Result<(), SinkError> {
        let expected = self
            .contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(table)
            .cloned();
        let Some(expected) = expected else {
            return Ok(());
        };
        let stored = self.table_contract(table).await?.unwrap_or_default();
        if stored == expected {
            return Ok(());
        }
        Err(SinkError::ContractMismatch {
            table: table.to_string(),
            location: self.store.location_of(table),
            differences: stored.differences(&expected),
        })
    }
}
