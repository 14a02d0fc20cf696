//! Call lines on the phone: while an agent has more than one call, every line with its lead,
//! its state and its own timer, with Switch, Join and Hang up for a call on hold (Hang up for
//! a joined one); and, on a call, "Another line" — the customer is held while the agent calls
//! a number.
//!
//! The server decides (line limit, calling rules, which call is where); the page shows what
//! it was last told ([`PhoneState::lines`]) and asks.

use leptos::prelude::*;

use super::state::{PhoneState, clock};
use crate::model::phone::{LineState, PhoneLine, PhoneRequest};

/// The lines, oldest first, while there is more than one call (or one on hold).
#[component]
pub fn LinesPanel(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // When the list came (the page's clock): each line's timer counts on from there.
    let told = Memo::new(move |_| {
        state.lines.track();
        state.now.get_untracked()
    });
    view! {
        <Show when=move || state.lines.with(|l| !l.is_empty())>
            <section class="card lines" aria-labelledby="lines-title" data-testid="lines">
                <h2 id="lines-title">"Your lines"</h2>
                <ol class="line-list">
                    {move || {
                        let lines = state.lines.get();
                        let on = Conversation {
                            talking: lines.iter().any(|l| l.state == LineState::Talking),
                            joined: lines.iter().any(|l| l.state == LineState::Joined),
                        };
                        let mut first_held = true;
                        lines.into_iter().enumerate().map(|(i, line)| {
                            let keys = line.state == LineState::Held && std::mem::take(&mut first_held);
                            view! { <Line number=i + 1 line told state send keys on /> }
                        }).collect_view()
                    }}
                </ol>
            </section>
        </Show>
    }
}

/// What the agent's lines make possible for one on hold.
#[derive(Clone, Copy)]
struct Conversation {
    /// The agent talks on a line: a held one can be joined to it.
    talking: bool,
    /// Lines are joined: none can be switched to until one is hung up.
    joined: bool,
}

/// One line: "Line 2 · Jane Doe · on hold 01:12 · Switch · Join · Hang up".
#[component]
fn Line(
    number: usize,
    line: PhoneLine,
    told: Memo<f64>,
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
    /// This line's Switch and Join are the ones the W and J keys press.
    keys: bool,
    on: Conversation,
) -> impl IntoView {
    let contact = &line.lead.contact;
    let name = format!("{} {}", contact.first_name, contact.last_name).trim().to_string();
    let who = if name.is_empty() { line.lead.phone.to_string() } else { name };
    let phone = line.lead.phone.to_string();
    let call = line.call;
    let seconds = f64::from(line.seconds) * 1000.0;
    let what = match line.state {
        LineState::Dialling => "calling…",
        LineState::Talking => "on this line",
        LineState::Held => "on hold",
        LineState::Joined => "joined: in this call",
        LineState::Ended => "ended: disposition due",
    };
    let timed = matches!(line.state, LineState::Talking | LineState::Held | LineState::Joined);
    let held = line.state == LineState::Held;
    let switch = move |_| {
        // The microphone is on for the customer coming back (mute belongs to a call).
        if state.muted.get_untracked() {
            state.muted.set(false);
            send(PhoneRequest::Mute { on: false });
        }
        send(PhoneRequest::SwitchLine { call });
    };
    let key_id = |id: &'static str, other: &'static str| if keys { id } else { other };
    let hangup = matches!(line.state, LineState::Held | LineState::Joined).then(|| view! {
        " " <button type="button" class="danger" on:click=move |_| send(PhoneRequest::HangupLine { call })
            data-testid="line-hangup">"Hang up"</button>
    });
    view! {
        <li class=if held { "line held" } else { "line" } data-testid="line" data-call=call.to_string()
            data-state=format!("{:?}", line.state).to_ascii_lowercase()>
            <strong>{format!("Line {number}")}</strong>
            " " <span data-testid="line-who">{who}</span>
            " " <span class="muted">{phone}</span>
            " " <span class="badge">{what}</span>
            {timed.then(|| view! {
                " " <span class="timer" data-testid="line-timer">{move || clock(seconds + state.now.get() - told.get())}</span>
            })}
            {(held && !on.joined).then(|| view! {
                " " <button type="button" class="primary" on:click=switch
                    data-testid=key_id("line-switch", "line-switch-other")
                    aria-keyshortcuts=keys.then_some("W")
                    title="Hold the call you are on and talk to this customer">"Switch"</button>
            })}
            {(held && on.talking).then(|| view! {
                " " <button type="button" on:click=move |_| send(PhoneRequest::JoinLine { call })
                    data-testid=key_id("line-join", "line-join-other")
                    aria-keyshortcuts=keys.then_some("J")
                    title="Bring this customer into the call you are on: everyone hears everyone">"Join"</button>
            })}
            {hangup}
        </li>
    }
}

/// On a call: hold the customer and call another number. The server checks it as any manual
/// call (and the line limit), and says why when it refuses.
#[component]
pub fn NewLine(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let number = RwSignal::new(String::new());
    let call = move || {
        let number = number.get_untracked();
        if number.trim().is_empty() {
            state.say(
                crate::model::notice::NoticeKind::Info,
                "Type the number to call on the new line.",
            );
            return;
        }
        send(PhoneRequest::Dial { number });
        open.set(false);
    };
    view! {
        <button type="button" data-testid="new-line-open" aria-keyshortcuts="A" aria-expanded=move || open.get().to_string()
            title="Hold this customer and call another number (A)"
            on:click=move |_| open.update(|o| *o = !*o)>
            "Another line"
        </button>
        <Show when=move || open.get()>
            <form class="row-form new-line" data-testid="new-line" on:submit=move |ev| { ev.prevent_default(); call(); }>
                <label>
                    "Number"
                    <input type="tel" inputmode="tel" autocomplete="off" maxlength="40" autofocus
                        data-testid="new-line-number"
                        prop:value=move || number.get()
                        on:input=move |ev| number.set(event_target_value(&ev)) />
                </label>
                <button type="submit" class="primary" data-testid="new-line-call">"Hold and call"</button>
            </form>
        </Show>
    }
}
