//! Keyboard shortcuts: every phone action from the keyboard, listed on the page from the same
//! table the key handler reads (so the list never lies).
//!
//! A shortcut presses the button the mouse would (so the same rules apply: Ready only shows
//! while paused, and so on). Plain keys do nothing while the focus is in a text field (the
//! notes, the digits box, a list box), so typing is never taken for a command; the two
//! Submit shortcuts (Ctrl+Enter, Ctrl+Shift+Enter) also work from the notes, as documented.

use leptos::prelude::*;

use super::state::PhoneState;
use crate::model::phone::PhoneRequest;

/// What a key does, in the page's words.
pub(super) const SHORTCUTS: [(&str, &str); 17] = [
    ("R", "Ready"),
    ("P", "Pause (with the reason chosen next to it)"),
    ("H", "Hang up"),
    ("M", "Mute or unmute"),
    ("L", "Hold or resume"),
    ("T", "On a call: transfer (choose the colleague)"),
    ("A", "On a call: another line (the customer is held while you call a number)"),
    ("W", "Switch to your call on hold"),
    ("J", "Join your call on hold to the call you are on"),
    ("0–9, *, #", "On a call: send the keypad digit"),
    ("1–9", "In wrap-up: choose that disposition"),
    ("Ctrl+Enter", "Submit (also in the notes)"),
    ("Ctrl+Shift+Enter", "Submit & pause (also in the notes)"),
    ("N", "Preview: get the next lead"),
    ("C / S", "Preview: call or skip the lead"),
    ("Esc", "Dismiss the newest notice"),
    ("Alt+C", "Open or close the chat (also while typing in it)"),
];

/// What a key press asks for.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Press the button with this `data-testid`.
    Press(&'static str),
    /// Send a keypad digit on the call.
    Digit(char),
    /// Choose the n-th disposition (from 1).
    Disposition(usize),
    Dismiss,
}

/// Where the agent is, as far as keys are concerned.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    OnCall,
    WrapUp,
    Other,
}

/// The action of a key (`KeyboardEvent.key`) with its modifiers, at a stage, with the focus
/// in a text field or not.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn action(
    key: &str,
    ctrl: bool,
    shift: bool,
    alt: bool,
    in_text: bool,
    stage: Stage,
) -> Option<Action> {
    if alt {
        // The chat's key works from its message box too, so one can close it and go back
        // to the call; Alt with anything else is the browser's.
        return (!ctrl && key.eq_ignore_ascii_case("c")).then_some(Action::Press("chat-toggle"));
    }
    if ctrl {
        return match (key, shift, stage) {
            ("Enter", false, Stage::WrapUp) => Some(Action::Press("submit")),
            ("Enter", true, Stage::WrapUp) => Some(Action::Press("submit-pause")),
            _ => None,
        };
    }
    if in_text {
        return None;
    }
    let mut chars = key.chars();
    let c = match (chars.next(), chars.next()) {
        (Some(c), None) => c.to_ascii_lowercase(),
        _ => return (key == "Escape").then_some(Action::Dismiss),
    };
    Some(match (c, stage) {
        ('0'..='9' | '*' | '#', Stage::OnCall) => Action::Digit(c),
        ('1'..='9', Stage::WrapUp) => Action::Disposition(c as usize - '0' as usize),
        ('r', _) => Action::Press("ready"),
        ('p', _) => Action::Press("pause"),
        ('h', _) => Action::Press("hangup"),
        ('m', _) => Action::Press("mute"),
        ('l', _) => Action::Press("hold"),
        ('t', _) => Action::Press("transfer-open"),
        ('a', _) => Action::Press("new-line-open"),
        ('w', _) => Action::Press("line-switch"),
        ('j', _) => Action::Press("line-join"),
        ('n', _) => Action::Press("next-lead"),
        ('c', _) => Action::Press("preview-call"),
        ('s', _) => Action::Press("preview-skip"),
        _ => return None,
    })
}

/// Listens for the shortcuts while the phone is on the page.
pub fn listen(state: PhoneState, send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.repeat() || ev.default_prevented() || state.ended.get_untracked().is_some() {
                return;
            }
            let in_text = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|e| is_text_field(&e));
            let stage = match (
                state.call.with_untracked(Option::is_some),
                state.wrapup.with_untracked(Option::is_some),
            ) {
                (true, true) => Stage::WrapUp,
                (true, false) => Stage::OnCall,
                _ => Stage::Other,
            };
            let Some(act) = action(
                &ev.key(),
                ev.ctrl_key() || ev.meta_key(),
                ev.shift_key(),
                ev.alt_key(),
                in_text,
                stage,
            ) else {
                return;
            };
            let document = document();
            let done = match act {
                Action::Press(id) => press(&document, &format!(r#"[data-testid="{id}"]"#)),
                Action::Disposition(n) => press(
                    &document,
                    &format!(
                        r#"[data-testid="wrapup"] .dispositions label:nth-of-type({n}) input"#
                    ),
                ),
                Action::Digit(d) => {
                    send(PhoneRequest::Dtmf { digits: d.to_string() });
                    true
                }
                Action::Dismiss => {
                    let shown = state.notices.with_untracked(|l| !l.is_empty());
                    super::notices::dismiss(state, send, 0);
                    shown
                }
            };
            if done {
                ev.prevent_default();
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (state, send);
}

/// Clicks (and focuses) the element `selector` finds, if it is there and enabled.
#[cfg(feature = "hydrate")]
fn press(document: &web_sys::Document, selector: &str) -> bool {
    use wasm_bindgen::JsCast;
    let Some(el) = document
        .query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return false;
    };
    if el.has_attribute("disabled") {
        return false;
    }
    let _ = el.focus();
    el.click();
    true
}

/// Typing goes into these: text inputs, text areas, list boxes, editable content.
#[cfg(feature = "hydrate")]
fn is_text_field(e: &web_sys::Element) -> bool {
    match e.tag_name().to_ascii_lowercase().as_str() {
        "textarea" | "select" => true,
        "input" => !matches!(
            e.get_attribute("type").unwrap_or_default().to_ascii_lowercase().as_str(),
            "radio" | "checkbox" | "button" | "submit" | "reset"
        ),
        _ => e.get_attribute("contenteditable").is_some_and(|v| v != "false"),
    }
}

/// The visible list of shortcuts.
#[component]
pub fn ShortcutList() -> impl IntoView {
    view! {
        <section class="card shortcuts" data-testid="shortcuts">
            <h2>"Keyboard shortcuts"</h2>
            <dl class="facts">
                {SHORTCUTS.iter().map(|(k, what)| view! { <dt><kbd>{*k}</kbd></dt><dd>{*what}</dd> }).collect_view()}
            </dl>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_the_work_at_hand() {
        let a = |key, stage| action(key, false, false, false, false, stage);
        assert_eq!(a("r", Stage::Other), Some(Action::Press("ready")));
        assert_eq!(a("R", Stage::Other), Some(Action::Press("ready")), "caps lock or shift");
        assert_eq!(a("5", Stage::OnCall), Some(Action::Digit('5')));
        assert_eq!(a("#", Stage::OnCall), Some(Action::Digit('#')));
        assert_eq!(a("5", Stage::WrapUp), Some(Action::Disposition(5)));
        assert_eq!(a("0", Stage::WrapUp), None, "dispositions are 1 to 9");
        assert_eq!(a("5", Stage::Other), None);
        assert_eq!(a("h", Stage::OnCall), Some(Action::Press("hangup")));
        assert_eq!(a("t", Stage::OnCall), Some(Action::Press("transfer-open")));
        assert_eq!(a("Escape", Stage::Other), Some(Action::Dismiss));
        assert_eq!(a("F5", Stage::Other), None);
        assert_eq!(a("x", Stage::Other), None);
    }

    #[test]
    fn typing_in_a_text_field_is_not_a_command_but_submit_is() {
        let typed = |key, ctrl, shift| action(key, ctrl, shift, false, true, Stage::WrapUp);
        assert_eq!(typed("r", false, false), None);
        assert_eq!(typed("1", false, false), None);
        assert_eq!(typed("Escape", false, false), None);
        assert_eq!(typed("Enter", true, false), Some(Action::Press("submit")));
        assert_eq!(typed("Enter", true, true), Some(Action::Press("submit-pause")));
        // Ctrl with other keys is the browser's (copy, paste, reload…); Alt too.
        assert_eq!(action("r", true, false, false, false, Stage::Other), None);
        assert_eq!(action("r", false, false, true, false, Stage::Other), None);
        // Alt+C opens or closes the chat, wherever the focus is, on a call too.
        for (in_text, stage) in
            [(false, Stage::OnCall), (true, Stage::WrapUp), (true, Stage::Other)]
        {
            assert_eq!(
                action("c", false, false, true, in_text, stage),
                Some(Action::Press("chat-toggle"))
            );
        }
        assert_eq!(action("c", true, false, true, false, Stage::Other), None);
        assert_eq!(action("Enter", true, false, false, false, Stage::OnCall), None);
    }

    #[test]
    fn every_shortcut_is_listed() {
        let listed: String = SHORTCUTS.iter().map(|(k, _)| format!("{k} ")).collect();
        for key in [
            "R",
            "P",
            "H",
            "M",
            "L",
            "T",
            "A",
            "W",
            "J",
            "0–9",
            "1–9",
            "Ctrl+Enter",
            "Ctrl+Shift+Enter",
            "N",
            "C",
            "S",
            "Esc",
            "Alt+C",
        ] {
            assert!(listed.contains(key), "{key} is not listed");
        }
    }
}
