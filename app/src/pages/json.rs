//! The codec of the pages' resources: JSON, read from bytes.
//!
//! A resource's value is written into the server-rendered page and read back when the page
//! hydrates; the server functions read their answers (JSON) from bytes. serde generates a
//! type's JSON reader once per kind of input, so Leptos' default resource codec (reading from
//! a `&str`) would put a second copy of every answer type's reader in the browser bundle.
//! Reading from bytes everywhere keeps one copy: create resources with [`resource`] and
//! [`blocking_resource`] rather than `Resource::new`. Invariant: what this codec reads is what
//! `serde_json` wrote, so the bytes are UTF-8 and the two readers accept the same input.

use std::future::Future;

use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON written as a string, read from its bytes (see the module docs).
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(encoded: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(encoded.as_bytes())
    }
}

/// `Resource::new` with this codec: fetched again when `source` changes.
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// `Resource::new_blocking` with this codec: the server sends nothing of the page before it.
#[track_caller]
pub fn blocking_resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiError, Role, Viewer};

    type Answer = Result<Option<Viewer>, ApiError>;

    fn round_trip(answer: &Answer) -> Answer {
        let text = <Json as Encoder<Answer>>::encode(answer).unwrap();
        <Json as Decoder<Answer>>::decode(&text).unwrap()
    }

    #[test]
    fn what_the_server_writes_the_page_reads_back() {
        let viewer: Viewer =
            serde_json::from_str(r#"{"id":3,"username":"zoe","role":"agent"}"#).unwrap();
        assert_eq!(viewer.role, Role::Agent);
        let answer: Answer = Ok(Some(viewer));
        assert_eq!(round_trip(&answer), answer);
        assert_eq!(round_trip(&Ok(None)), Ok(None));
        assert_eq!(round_trip(&Err(ApiError::Forbidden)), Err(ApiError::Forbidden));
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in ["", "{", r#"{"Ok":{"id":"three"}}"#, r#""Ok""#] {
            assert!(<Json as Decoder<Answer>>::decode(bad).is_err(), "{bad:?}");
        }
    }
}
