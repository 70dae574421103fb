//! The executor: single-threaded, no clock, no OS. Futures are polled with a
//! no-op waker; the fault store's futures return `Pending` once at each store
//! call (waking themselves), which is where the scheduler may switch to
//! another booker.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

/// Returns `Pending` once, then `Ready`: a point where the scheduler may run
/// someone else.
#[derive(Debug, Default)]
pub struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub fn yield_now() -> YieldOnce {
    YieldOnce(false)
}

/// Polls once with a no-op waker.
pub fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    f.poll(&mut cx)
}

/// Drives a future to completion on this thread. Only for futures that make
/// progress at every poll (every future in the simulation does: nothing
/// waits for anything but the scheduler).
pub fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = poll_once(f.as_mut()) {
            return v;
        }
    }
}
