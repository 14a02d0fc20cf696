//! The agent's audio, judged once a second from the browser's own statistics of the audio leg
//! (`getStats`, read here into a [`QualitySample`]; the rules are
//! [`crate::model::quality::QualityWatch`]'s), and the banner that tells the agent.
//! [`super::link`] takes the samples and reports each change to the server for the floor.

use leptos::prelude::*;

use crate::model::quality::QualityWarning;

/// "Audio problem: …" while any warning stands.
#[component]
pub fn QualityBanner(quality: RwSignal<Vec<QualityWarning>>) -> impl IntoView {
    move || {
        let words: Vec<&str> = quality.get().into_iter().map(QualityWarning::label).collect();
        (!words.is_empty()).then(|| {
            view! {
                <p class="banner warn" role="status" data-testid="phone-quality">
                    {format!("Audio problem: {}. Your supervisor can see it too.", words.join(", "))}
                </p>
            }
        })
    }
}

/// The statistics of `pc` that the warnings are judged on; `None` when the browser gave none.
#[cfg(feature = "hydrate")]
pub async fn read(pc: &web_sys::RtcPeerConnection) -> Option<crate::model::quality::QualitySample> {
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};
    let report = wasm_bindgen_futures::JsFuture::from(pc.get_stats()).await.ok()?;
    // An RTCStatsReport is a map: its values are the stats objects.
    let values = Reflect::get(&report, &"values".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?
        .call0(&report)
        .ok()?;
    let mut s = crate::model::quality::QualitySample::default();
    for stat in js_sys::try_iter(&values).ok()??.flatten() {
        let get = |k: &str| Reflect::get(&stat, &JsValue::from_str(k)).ok();
        let text = |k: &str| get(k).and_then(|v| v.as_string());
        let num = |k: &str| get(k).and_then(|v| v.as_f64());
        let count = |k: &str| num(k).unwrap_or(0.0).max(0.0) as u64;
        match text("type").as_deref() {
            Some("inbound-rtp") if text("kind").as_deref() == Some("audio") => {
                s.jitter_ms = num("jitter").map(|j| j * 1000.0);
                s.packets_received = count("packetsReceived");
                s.packets_lost = count("packetsLost");
                s.bytes_received = count("bytesReceived");
            }
            Some("candidate-pair") if get("nominated").and_then(|v| v.as_bool()) == Some(true) => {
                if let Some(rtt) = num("currentRoundTripTime") {
                    s.rtt_ms = Some(rtt * 1000.0);
                }
            }
            _ => {}
        }
    }
    Some(s)
}
