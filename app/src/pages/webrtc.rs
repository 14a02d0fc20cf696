//! The browser's side of an audio leg to the media gateway, shared by the agent's phone and
//! the supervisor's floor: the offer (complete, since the gateway is ICE-lite and takes no
//! trickled candidates), the gateway's answer, and stopping a microphone.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit,
};

/// Makes `pc`'s offer, sets it, waits for its candidates and returns the SDP to send; `None`
/// when the browser refused.
pub async fn local_offer(pc: &RtcPeerConnection) -> Option<String> {
    let offer = JsFuture::from(pc.create_offer()).await.ok()?;
    let sdp = js_sys::Reflect::get(&offer, &"sdp".into()).ok().and_then(|v| v.as_string())?;
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&init)).await.ok()?;
    wait_for_candidates(pc).await;
    Some(pc.local_description().map(|d| d.sdp()).unwrap_or(sdp))
}

/// Sets the gateway's answer on `pc`; `false` when the browser refused it.
pub async fn set_answer(pc: &RtcPeerConnection, sdp: &str) -> bool {
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
    init.set_sdp(sdp);
    JsFuture::from(pc.set_remote_description(&init)).await.is_ok()
}

/// Waits until `pc` is connected (`true`), or has failed or taken `ms` (`false`).
pub async fn connected(pc: &RtcPeerConnection, ms: i32) -> bool {
    use web_sys::RtcPeerConnectionState as S;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let done = resolve.clone();
        let watched = pc.clone();
        let check = Closure::<dyn FnMut()>::new(move || match watched.connection_state() {
            S::Connected => {
                let _ = done.call1(&JsValue::NULL, &JsValue::TRUE);
            }
            S::Failed | S::Closed => {
                let _ = done.call1(&JsValue::NULL, &JsValue::FALSE);
            }
            _ => {}
        });
        pc.set_onconnectionstatechange(Some(check.as_ref().unchecked_ref()));
        check.forget();
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_1(
                &resolve,
                ms,
                &JsValue::FALSE,
            );
        }
        if pc.connection_state() == S::Connected {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::TRUE);
        }
    });
    let ok = JsFuture::from(promise).await.is_ok_and(|v| v.is_truthy());
    pc.set_onconnectionstatechange(None);
    ok
}

/// Stops every track of `stream` (the browser's microphone indicator goes off).
pub fn stop_tracks(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// Resolves when ICE gathering is complete (host candidates only: a few milliseconds), or
/// after two seconds at most.
async fn wait_for_candidates(pc: &RtcPeerConnection) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let done = resolve.clone();
        let watched = pc.clone();
        let check = Closure::<dyn FnMut()>::new(move || {
            if watched.ice_gathering_state() == web_sys::RtcIceGatheringState::Complete {
                let _ = done.call0(&JsValue::NULL);
            }
        });
        pc.set_onicegatheringstatechange(Some(check.as_ref().unchecked_ref()));
        check.forget();
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 2000);
        }
        if pc.ice_gathering_state() == web_sys::RtcIceGatheringState::Complete {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
