//! The engine's outputs, queued in the order they must be carried out.
//!
//! A field of its own (rather than pushes through `&mut Engine`) so a handler can hold a
//! `&mut` campaign, agent or call record and still emit outputs: the borrow checker then
//! lets the record it already looked up do the work, with no second lookup that could miss.
//!
//! Invariant: outputs leave in the order they were pushed (the records before an attempt to
//! store before it, a release before the claim that would refill the hopper).

use app::model::{LeadId, UserId};
use std::collections::VecDeque;

use super::io::{AgentEvent, Output, Record};

#[derive(Default)]
pub(super) struct Outbox {
    queue: VecDeque<Output>,
}

impl Outbox {
    pub(super) fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    pub(super) fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    /// Store this.
    pub(super) fn record(&mut self, record: Record) {
        self.push(Output::Record(record));
    }

    /// Tell an agent's phone page.
    pub(super) fn notify(&mut self, agent: UserId, event: AgentEvent) {
        self.push(Output::Notify { agent, event });
    }

    /// Gives claimed leads back untouched; nothing is emitted for none.
    pub(super) fn release(&mut self, leads: Vec<LeadId>, next_attempt_at: Option<i64>) {
        if !leads.is_empty() {
            self.push(Output::Release { leads, next_attempt_at });
        }
    }
}
