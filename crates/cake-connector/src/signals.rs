//! SIGINT and SIGTERM. The first asks the running job to stop: no new window starts, windows
//! being fetched are abandoned without committing anything, the run's staging and temporary
//! files are removed as the job unwinds, the summary is written with the status `interrupted`,
//! and the process exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once.

use std::sync::atomic::{AtomicU8, Ordering};

use cake_pipeline::Cancel;

/// The signal received (2 or 15), or 0.
static RECEIVED: AtomicU8 = AtomicU8::new(0);

/// The exit code of an interrupted run: 128 + the signal's number.
pub fn exit_code() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        n => 128 + n,
    }
}

/// Waits for SIGINT or SIGTERM and cancels `cancel`; exits at the second signal. Runs until
/// the runtime stops.
pub async fn watch(cancel: Cancel) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            let number = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
            };
            if RECEIVED.swap(number, Ordering::SeqCst) != 0 {
                std::process::exit(128 + i32::from(number));
            }
            cancel.cancel();
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            RECEIVED.store(2, Ordering::SeqCst);
            cancel.cancel();
        }
    }
}
