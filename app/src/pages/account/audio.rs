//! The phone's microphone and speaker, chosen from the browser's devices.
//!
//! Browsers name their devices (and, in Chromium, give their ids at all) only once the page
//! may use the microphone, so the list is read when the page opens and again, after asking
//! for the microphone, on "Find my devices". A saved device this browser does not have (ids
//! are per browser) stays chosen, marked as missing, with a note that the phone uses the
//! default one here. This code lives in the profile page's chunk: the phone only applies the
//! two saved ids.

use leptos::prelude::*;

use super::{current_profile, remember};
use crate::api::profile::SaveAudioDevices;
use crate::pages::widgets::Outcome;

/// One device the browser offers.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Device {
    id: String,
    label: String,
}

/// The browser's audio devices. A kind with no device listed is one the browser has not
/// shown yet (no permission), not one known to be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Devices {
    inputs: Vec<Device>,
    outputs: Vec<Device>,
}

#[component]
pub fn AudioDevicesForm() -> impl IntoView {
    let action = ServerAction::<SaveAudioDevices>::new();
    let saved = current_profile().audio;
    let input = RwSignal::new(saved.input.map(|d| d.to_string()).unwrap_or_default());
    let output = RwSignal::new(saved.output.map(|d| d.to_string()).unwrap_or_default());
    let devices = RwSignal::new(Devices::default());
    let problem = RwSignal::new(None::<&'static str>);
    Effect::new(move |_| {
        if let Some(Ok(saved)) = action.value().get() {
            remember(&saved);
        }
    });
    // What the browser shows without asking (everything, once the microphone was allowed).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(found) = browser::devices(false).await {
                devices.set(found);
            }
        });
    });
    let find = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match browser::devices(true).await {
                Ok(found) => {
                    problem.set(None);
                    devices.set(found);
                }
                Err(why) => problem.set(Some(why)),
            }
        });
    };
    let inputs = Signal::derive(move || devices.with(|d| d.inputs.clone()));
    let outputs = Signal::derive(move || devices.with(|d| d.outputs.clone()));
    view! {
        <section class="card narrow" data-testid="audio-devices">
            <h2>"Phone audio"</h2>
            <p class="muted">
                "The phone uses these for your calls, in any browser that has them. The browser names its devices once it may use the microphone."
            </p>
            <p>
                <button type="button" data-testid="find-devices" on:click=find>"Find my devices"</button>
            </p>
            {move || problem.get().map(|why| view! { <p class="banner error" role="alert">{why}</p> })}
            <Outcome value=move || action.value().get() success="Audio devices saved." />
            <ActionForm action attr:class="stack">
                <DeviceChoice
                    name="input"
                    label="Microphone"
                    missing="The microphone you chose is not connected to this browser: the phone uses the default one here."
                    chosen=input
                    offered=inputs
                />
                <DeviceChoice
                    name="output"
                    label="Speaker"
                    missing="The speaker you chose is not connected to this browser: the phone uses the default one here."
                    chosen=output
                    offered=outputs
                />
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    "Save audio devices"
                </button>
            </ActionForm>
        </section>
    }
}

/// One device choice: the browser's default, the devices offered, and the saved one when the
/// browser does not offer it (kept, so saving the other choice does not lose it, but marked).
#[component]
fn DeviceChoice(
    name: &'static str,
    label: &'static str,
    missing: &'static str,
    chosen: RwSignal<String>,
    offered: Signal<Vec<Device>>,
) -> impl IntoView {
    let absent = move || {
        let id = chosen.get();
        let list = offered.get();
        // Nothing listed: the browser has not shown its devices yet, so nothing is known to be
        // missing.
        !id.is_empty() && !list.is_empty() && !list.iter().any(|d| d.id == id)
    };
    let options = move || {
        let id = chosen.get();
        let list = offered.get();
        let mut shown: Vec<(String, String)> =
            list.iter().map(|d| (d.id.clone(), d.label.clone())).collect();
        if !id.is_empty() && !list.iter().any(|d| d.id == id) {
            let note =
                if list.is_empty() { "Chosen device" } else { "Chosen device (not found here)" };
            shown.push((id.clone(), note.to_string()));
        }
        shown
            .into_iter()
            .map(|(value, text)| {
                let selected = value == id;
                view! { <option value=value selected=selected>{text}</option> }
            })
            .collect_view()
    };
    view! {
        <label>
            {label}
            <select name=name data-testid=format!("audio-{name}")
                on:change=move |ev| chosen.set(event_target_value(&ev))>
                <option value="" selected=move || chosen.get().is_empty()>"Browser default"</option>
                {options}
            </select>
        </label>
        {move || absent().then(|| view! {
            <p class="banner warn" data-testid=format!("{name}-missing")>{missing}</p>
        })}
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! Reading the browser's devices.

    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{MediaDeviceInfo, MediaDeviceKind, MediaStreamConstraints};

    use super::{Device, Devices};
    use crate::pages::webrtc;

    /// The browser's audio devices; with `ask`, after asking for the microphone (and letting
    /// it go at once), which is what makes browsers name them.
    pub async fn devices(ask: bool) -> Result<Devices, &'static str> {
        const NO_DEVICES: &str = "This browser does not list audio devices.";
        let media =
            web_sys::window().and_then(|w| w.navigator().media_devices().ok()).ok_or(NO_DEVICES)?;
        if ask {
            let constraints = MediaStreamConstraints::new();
            constraints.set_audio(&wasm_bindgen::JsValue::TRUE);
            let asked =
                media.get_user_media_with_constraints(&constraints).map_err(|_| NO_DEVICES)?;
            let stream = JsFuture::from(asked).await.map_err(|_| {
                "The browser did not allow the microphone, so it does not name your devices. Allow it in the address bar and try again."
            })?;
            webrtc::stop_tracks(&stream.unchecked_into());
        }
        let listed = media.enumerate_devices().map_err(|_| NO_DEVICES)?;
        let listed = JsFuture::from(listed).await.map_err(|_| NO_DEVICES)?;
        let mut found = Devices::default();
        for item in js_sys::Array::from(&listed).iter() {
            let info: MediaDeviceInfo = item.unchecked_into();
            let id = info.device_id();
            // Without permission Chromium lists one nameless device per kind with no id.
            if id.is_empty() {
                continue;
            }
            let list = match info.kind() {
                MediaDeviceKind::Audioinput => &mut found.inputs,
                MediaDeviceKind::Audiooutput => &mut found.outputs,
                _ => continue,
            };
            let label = match info.label() {
                l if l.is_empty() => format!("Device {}", list.len() + 1),
                l => l,
            };
            list.push(Device { id, label });
        }
        Ok(found)
    }
}
