//! Knowing that an answer left: what a wait hands out counts as delivered only once its answer
//! was handed to the client's connection.
//!
//! With several instances on one store, the instance that claimed a batch (moving the member's
//! cursor past it) may die before its answer is written; the client's next wait, served by
//! another instance, would then start after messages it never received. So on a shared store a
//! claim records where it started (`Member::unconfirmed_from`), and the HTTP layer tells the
//! engine when the response that carries the answer has been handed over in full
//! ([`AnswerHook::answered`]); the engine then records the delivery as confirmed
//! ([`super::Store::confirm_delivery`]). A claim that finds an unconfirmed batch hands it out
//! again: a client may see a message twice (it drops what it has by `seq`), never miss one.

use std::sync::{Arc, Mutex};

type Then = Box<dyn FnOnce() + Send>;

/// One request's "the answer left" signal. The HTTP layer makes one per request, puts it in the
/// request's extensions and fires it when the response body has been handed over to the
/// connection in full; the tool boundary runs the call with it ([`super::source::scope`]).
#[derive(Clone, Default)]
pub struct AnswerHook(Arc<Mutex<State>>);

#[derive(Default)]
enum State {
    #[default]
    Waiting,
    Registered(Vec<Then>),
    /// Answered or abandoned: nothing registered later runs.
    Done,
}

impl AnswerHook {
    /// Runs `then` once the answer has been handed over, never if it is not (the connection
    /// broke first, or the process died).
    pub fn on_answered(&self, then: impl FnOnce() + Send + 'static) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *state {
            State::Waiting => *state = State::Registered(vec![Box::new(then)]),
            State::Registered(all) => all.push(Box::new(then)),
            State::Done => {}
        }
    }

    /// The answer has been handed to the connection: runs what was registered.
    pub fn answered(&self) {
        let registered = std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(|p| p.into_inner()),
            State::Done,
        );
        if let State::Registered(all) = registered {
            for then in all {
                then();
            }
        }
    }

    /// The answer will not be handed over: what was registered never runs.
    pub fn abandoned(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn runs_once_on_an_answer_and_never_after_abandon() {
        let ran = Arc::new(AtomicUsize::new(0));
        let count = |ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            move || {
                ran.fetch_add(1, Ordering::Relaxed);
            }
        };
        let hook = AnswerHook::default();
        hook.on_answered(count(&ran));
        hook.on_answered(count(&ran));
        hook.answered();
        hook.answered();
        hook.on_answered(count(&ran));
        assert_eq!(ran.load(Ordering::Relaxed), 2);

        let cut = AnswerHook::default();
        cut.on_answered(count(&ran));
        cut.abandoned();
        cut.answered();
        assert_eq!(ran.load(Ordering::Relaxed), 2);
    }
}
