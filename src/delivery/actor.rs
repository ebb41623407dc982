//! The worker actor: it decides when to claim — on enqueue (the [`Waker`]), when a slot
//! frees up, and on a timer for work enqueued by other processes — and nothing else; the
//! work itself is [`worker::dispatch`] and [`worker::process`].
//!
//! It runs on its own thread with its own actix `System`, so it works under any host
//! runtime (the web server's, a test's) and a busy web node never starves it.

use std::sync::Arc;

use actix::prelude::*;

use super::claim;
use super::queue::Waker;
use super::worker::{self, WorkerCtx};
use crate::db;

pub struct WorkerActor {
    ctx: Arc<WorkerCtx>,
    waker: Waker,
    /// A dispatch is running; `again` asks for another one when it ends.
    pumping: bool,
    again: bool,
    stopping: bool,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Wake;

#[derive(Message)]
#[rtype(result = "()")]
struct Shutdown;

impl Actor for WorkerActor {
    type Context = Context<Self>;

    fn started(&mut self, c: &mut Context<Self>) {
        c.run_interval(self.ctx.cfg.poll, |a, c| a.pump(c));
        // Turns enqueue wake-ups and freed slots into `Wake` messages. Notify keeps one
        // pending permit, so bursts collapse into one message.
        let addr = c.address();
        let waker = self.waker.clone();
        let ctx = self.ctx.clone();
        actix::spawn(async move {
            loop {
                tokio::select! {
                    () = waker.0.notified() => {}
                    () = ctx.freed.notified() => {}
                }
                if !addr.connected() {
                    break;
                }
                addr.do_send(Wake);
            }
        });
        self.pump(c);
    }
}

impl WorkerActor {
    fn pump(&mut self, c: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        if self.pumping {
            self.again = true;
            return;
        }
        self.pumping = true;
        let ctx = self.ctx.clone();
        let fut = async move {
            match worker::dispatch(&ctx, db::now()).await {
                Ok(jobs) => {
                    let n = jobs.len();
                    for job in jobs {
                        actix::spawn(worker::process(job, None));
                    }
                    n
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed; retrying on the next tick");
                    0
                }
            }
        };
        c.spawn(fut.into_actor(self).map(|n, act, c| {
            act.pumping = false;
            // Something was claimed: there may be more due right now.
            if std::mem::take(&mut act.again) || n > 0 {
                act.pump(c);
            }
        }));
    }
}

impl Handler<Wake> for WorkerActor {
    type Result = ();
    fn handle(&mut self, _: Wake, c: &mut Context<Self>) {
        self.pump(c);
    }
}

impl Handler<Shutdown> for WorkerActor {
    type Result = ();
    /// Stop claiming, let in-flight requests finish up to the grace period, release the
    /// claims of those still running (their rows are pending again at once, not after
    /// the lease), then stop the actor's system.
    fn handle(&mut self, _: Shutdown, c: &mut Context<Self>) {
        self.stopping = true;
        let ctx = self.ctx.clone();
        let fut = async move {
            let mut rx = ctx.in_flight.subscribe();
            let grace = ctx.cfg.shutdown_grace;
            let _ = tokio::time::timeout(grace, rx.wait_for(|n| *n == 0)).await;
            let left = ctx.active_claims();
            if !left.is_empty() {
                tracing::warn!(
                    n = left.len(),
                    "releasing deliveries still in flight at shutdown"
                );
                let now = db::now();
                let res = db::run(&ctx.pool, move |c| {
                    for (id, token) in &left {
                        claim::release(c, token, &[*id], now)?;
                    }
                    Ok(())
                })
                .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "releasing claims at shutdown failed; their leases will expire");
                }
            }
        };
        c.wait(
            fut.into_actor(self)
                .map(|(), _, _| System::current().stop()),
        );
    }
}

/// The running worker. Dropping it leaves the worker running until the process ends;
/// call [`WorkerHandle::shutdown`] for a graceful stop.
pub struct WorkerHandle {
    addr: Addr<WorkerActor>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts the actor on its own thread. `build` makes the context there (its recorder
    /// task must live on the actor's runtime).
    pub fn start<F>(build: F, waker: Waker) -> anyhow::Result<Self>
    where
        F: FnOnce() -> anyhow::Result<Arc<WorkerCtx>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hookdesk-worker".into())
            .spawn(move || {
                let sys = System::new();
                let started = sys.block_on(async move {
                    let ctx = build()?;
                    tracing::info!(worker = %ctx.cfg.id, "delivery worker started");
                    Ok::<_, anyhow::Error>(
                        WorkerActor {
                            ctx,
                            waker,
                            pumping: false,
                            again: false,
                            stopping: false,
                        }
                        .start(),
                    )
                });
                let ok = started.is_ok();
                let _ = tx.send(started);
                if ok && let Err(e) = sys.run() {
                    tracing::error!(error = %e, "delivery worker system failed");
                }
            })?;
        let addr = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the delivery worker thread ended before starting"))??;
        Ok(Self {
            addr,
            thread: Some(thread),
        })
    }

    /// Graceful stop: returns once in-flight requests finished or were released.
    pub async fn shutdown(mut self) {
        self.addr.do_send(Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
