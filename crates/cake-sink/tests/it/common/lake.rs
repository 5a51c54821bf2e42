//! An output location for a test (a local directory, or a prefix of a bucket on moto) and a
//! view of what is stored there that does not go through the sink. Shared by the sink's and
//! the pipeline's tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cake_sink::{Sink, SinkOptions, Store, StoreOptions};

use super::moto::Moto;

/// An output location for one test, and an independent view of what is stored there.
pub struct Lake {
    pub location: String,
    options: StoreOptions,
    kind: Kind,
}

enum Kind {
    Local {
        _dir: tempfile::TempDir,
        root: PathBuf,
    },
    S3 {
        moto: Arc<Moto>,
        bucket: String,
        prefix: String,
    },
}

impl Lake {
    pub fn local() -> Lake {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lake");
        Lake {
            location: root.display().to_string(),
            options: StoreOptions::default(),
            kind: Kind::Local { _dir: dir, root },
        }
    }

    /// A prefix of a bucket on moto (the bucket is created if needed).
    pub fn s3(moto: &Arc<Moto>, bucket: &str, prefix: &str) -> Lake {
        if !moto.bucket_exists(bucket) {
            moto.create_bucket(bucket);
        }
        Lake {
            location: format!("s3://{bucket}/{prefix}"),
            options: StoreOptions {
                from_env: false,
                settings: moto.settings(),
                ..StoreOptions::default()
            },
            kind: Kind::S3 {
                moto: moto.clone(),
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            },
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local { .. })
    }

    pub fn local_root(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local { root, .. } => Some(root),
            Kind::S3 { .. } => None,
        }
    }

    /// The location opened as a store, with the test's settings.
    pub fn store(&self) -> Store {
        Store::open_with(&self.location, &self.options).unwrap()
    }

    pub fn sink(&self) -> Sink {
        self.sink_with(SinkOptions::default())
    }

    pub fn sink_with(&self, options: SinkOptions) -> Sink {
        Sink::open_store(self.store(), options).unwrap()
    }

    /// Every stored object, relative to the location, sorted, listed without the sink
    /// (hidden files included).
    pub fn objects(&self) -> Vec<String> {
        match &self.kind {
            Kind::Local { root, .. } => {
                let mut out = Vec::new();
                walk(root, root, &mut out);
                out.sort();
                out
            }
            Kind::S3 {
                moto,
                bucket,
                prefix,
            } => moto
                .keys(bucket)
                .into_iter()
                .filter_map(|k| k.strip_prefix(&format!("{prefix}/")).map(str::to_string))
                .collect(),
        }
    }

    /// Objects below `dir/`, relative to it.
    pub fn objects_in(&self, dir: &str) -> Vec<String> {
        self.objects()
            .into_iter()
            .filter_map(|k| k.strip_prefix(&format!("{dir}/")).map(str::to_string))
            .collect()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}
