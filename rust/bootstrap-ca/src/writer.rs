//! The one thread that owns the [`Store`]: every read and write is a job on its queue, so
//! writes never meet each other and "database is locked" cannot happen inside `serve`.

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::store::Store;

type Job = Box<dyn FnOnce(&mut dyn Store) + Send>;

/// How many jobs may wait: past it, request handlers wait their turn (back-pressure).
const QUEUE: usize = 4096;

/// A cheap, cloneable way to run jobs on the store's thread.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Moves `store` to a thread of its own.
    pub fn spawn(mut store: Box<dyn Store>) -> Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    // A job that panics (a bug) loses its reply (the asker answers 503)
                    // and its transaction (rolled back as it unwinds), not the thread.
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(store.as_mut())));
                    if ran.is_err() {
                        eprintln!("bootstrap-ca: a storage job panicked; its transaction was rolled back");
                    }
                }
            })
            .map_err(|e| Error::Io("store thread".into(), e))?;
        Ok((StoreHandle { jobs }, thread))
    }

    /// Runs `f` on the store's thread and returns its answer.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> R + Send + 'static,
    ) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            // The asker may have gone (its connection closed): the work is done anyway.
            let _ = reply.send(f(store));
        });
        self.jobs.send(job).await.map_err(|_| Error::StoreGone)?;
        answer.await.map_err(|_| Error::StoreGone)
    }
}
