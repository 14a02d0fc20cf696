//! The status bar's counters: the dial method (the campaign's kind), how long the agent has
//! been in their state (a break-time indicator while paused), and the call's duration while
//! on a call. Display only: they read the page's ticking clock and decide nothing.

use leptos::prelude::*;

use super::state::{PhoneState, clock};
use crate::model::AgentStatus;

/// How the state is named next to its timer: a pause is a break.
fn timer_label(status: &AgentStatus) -> &'static str {
    match status {
        AgentStatus::Paused { .. } => "On break",
        AgentStatus::Ready => "Waiting",
        AgentStatus::Reserved => "Connecting",
        AgentStatus::InCall => "In call",
        AgentStatus::WrapUp => "Wrap-up",
        AgentStatus::LoggedOut => "Logged out",
    }
}

#[component]
pub fn StatusClock(state: PhoneState) -> impl IntoView {
    // When the state shown began, on the page's clock: set at each change of state (a pause
    // for another reason is another state).
    let since = RwSignal::new(state.now.get_untracked());
    Effect::new(move |prev: Option<String>| {
        let label = state.status.with(AgentStatus::label);
        if prev.as_ref() != Some(&label) {
            since.set(state.now.get_untracked());
        }
        label
    });
    let kind = move || {
        state.campaign.with(|c| c.as_ref().map(|c| c.kind.label().to_string()).unwrap_or_default())
    };
    let on_call = move || state.call.with(Option::is_some) && state.wrapup.with(Option::is_none);
    view! {
        <span class="muted" data-testid="dial-method">"Dial method: " {kind}</span>
        <span class="timer" data-testid="state-timer">
            {move || state.status.with(timer_label)} " " {move || clock(state.now.get() - since.get())}
        </span>
        <Show when=on_call>
            <span class="timer" data-testid="call-duration">
                "Call " {move || state.call.with(|c| c.as_ref().map(|c| clock(state.now.get() - c.since)).unwrap_or_default())}
            </span>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PauseReason;

    #[test]
    fn a_pause_is_a_break_on_the_timer() {
        let lunch = AgentStatus::Paused { reason: PauseReason::parse("Lunch").unwrap() };
        assert_eq!(timer_label(&lunch), "On break");
        assert_eq!(timer_label(&AgentStatus::InCall), "In call");
    }
}
