//! The dial pad: the agent calls a number by hand while paused or waiting (ready, no call
//! reserved for them). The number is typed, pasted or keyed on the pad; the server
//! normalises it and says why when it cannot be called (do-not-call list, outside the
//! calling window, not a number…) — its answer shows in the phone's notice banner.
//!
//! While the call rings the pad shows the number and a Hang up button; once it connects the
//! call screen takes over, as for every call.

use leptos::prelude::*;

use super::state::PhoneState;
use crate::model::AgentStatus;
use crate::model::phone::PhoneRequest;

/// Shown with the idle phone; `number` is shared so a phonebook entry can fill it.
#[component]
pub fn DialPad(
    state: PhoneState,
    number: RwSignal<String>,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let idle =
        move || matches!(state.status.get(), AgentStatus::Ready | AgentStatus::Paused { .. });
    let calling = move || {
        matches!(state.status.get(), AgentStatus::Reserved).then(|| state.dialling.get()).flatten()
    };
    let dial = move || send(PhoneRequest::Dial { number: number.get_untracked() });
    view! {
        <section class="card dialpad" data-testid="dialpad" aria-labelledby="dialpad-title">
            <h2 id="dialpad-title">"Manual call"</h2>
            {move || match calling() {
                Some(n) => view! {
                    <p role="status" data-testid="dialling">"Calling " <strong>{n}</strong> "…"</p>
                    <button type="button" class="danger" on:click=move |_| send(PhoneRequest::Hangup) data-testid="dial-hangup">
                        "Hang up"
                    </button>
                }.into_any(),
                None => view! {
                    <form class="stack" on:submit=move |ev| { ev.prevent_default(); dial(); }>
                        <label>
                            "Number"
                            <input type="tel" inputmode="tel" autocomplete="off" maxlength="40"
                                data-testid="dial-number"
                                prop:value=move || number.get()
                                on:input=move |ev| number.set(event_target_value(&ev)) />
                        </label>
                        <div class="keypad" role="group" aria-label="Dial pad">
                            {"123456789+0#".chars().map(|d| view! {
                                <button type="button" on:click=move |_| number.update(|n| n.push(d))>{d.to_string()}</button>
                            }).collect_view()}
                        </div>
                        <div class="row-form">
                            <button type="submit" class="primary" data-testid="dial-call" disabled=move || !idle()>"Call"</button>
                            <button type="button" on:click=move |_| number.set(String::new())>"Clear"</button>
                        </div>
                        <p class="muted">"While paused you stay paused after the call; while ready you are ready again after it."</p>
                    </form>
                }.into_any(),
            }}
        </section>
    }
}
